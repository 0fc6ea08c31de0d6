from __future__ import annotations

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's hashed and compressed storage, rewriting references in CSS only.

    Django also rewrites ``sourceMappingURL`` comments in JavaScript and fails on
    the vendored libraries' comments, whose ``.map`` files we do not ship.
    """

    patterns = tuple(
        (extension, rules) for extension, rules in ManifestStaticFilesStorage.patterns if extension == "*.css"
    )
