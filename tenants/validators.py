import re
from functools import cache

from django.core.exceptions import ValidationError

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_RE = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*(:\d{{1,5}})?$")
_IPV4_RE = re.compile(r"^(\d{1,3})(\.\d{1,3}){3}(:\d{1,5})?$")


def validate_domain_host(value: str) -> None:
    host = (value or "").strip().lower()
    if "://" in host or "/" in host:
        raise ValidationError("Give a host name only (example: exams.example.edu), not a URL.")
    if not _HOST_RE.match(host):
        raise ValidationError(f"{value!r} is not a valid host name.")
    bare = host.removeprefix("*.")
    if _IPV4_RE.match(bare):
        if host.startswith("*."):
            raise ValidationError("A wildcard cannot be used with an IP address.")
        if any(int(part) > 255 for part in bare.split(":")[0].split(".")):
            raise ValidationError(f"{value!r} is not a valid IP address.")
    if ":" in host and not 0 < int(host.rsplit(":", 1)[1]) < 65536:
        raise ValidationError("The port must be between 1 and 65535.")
    if host.startswith("*.") and _public_suffixes().is_public(bare.split(":")[0]):
        # *.edu or *.github.io would let every other institution's (or anyone's) site in.
        raise ValidationError(
            f"{value!r} is a wildcard over a public suffix: register your own domain (*.example.edu)."
        )


@cache
def _public_suffixes():
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()  # the list shipped inside the package: nothing is downloaded
