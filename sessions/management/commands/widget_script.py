"""Print the assembled widget script (what /widget.js serves), or freeze the current build."""

import sys

from django.core.management.base import BaseCommand

from sessions.widget_script import widget_release_freeze, widget_script


class Command(BaseCommand):
    help = (
        "Print the widget script assembled from static/proctorme/src/ (readable); with --freeze, keep "
        "the current build in static/proctorme/releases/ so its pinned URL outlives an upgrade."
    )

    def add_arguments(self, parser):
        parser.add_argument("--minified", action="store_true", help="print the minified build")
        parser.add_argument("--freeze", action="store_true", help="keep the current build as a release")

    def handle(self, *args, minified=False, freeze=False, **options):
        if freeze:
            path = widget_release_freeze()
            self.stdout.write(f"{widget_script().build}: {path}")
            return
        build = widget_script()
        sys.stdout.buffer.write(build.minified if minified else build.source)
