"""Print the assembled widget script (what /widget.js serves), e.g. to lint it whole."""

import sys

from django.core.management.base import BaseCommand

from sessions.widget_script import widget_script


class Command(BaseCommand):
    help = "Print the widget script assembled from static/proctorme/src/ (as /widget.js serves it)."

    def handle(self, *args, **options):
        sys.stdout.buffer.write(widget_script().content)
