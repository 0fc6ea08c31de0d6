import os

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import Resolver404, resolve


def _exists(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


class Command(BaseCommand):
    help = "Print the demo URLs, logins and keys that seed_demo wrote to var/demo.txt."

    def handle(self, *args, **options):
        demo_file = settings.BASE_DIR / "var" / "demo.txt"
        values = dict(line.split(": ", 1) for line in demo_file.read_text().splitlines() if ": " in line)
        base = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
        pages = [
            ("Demo exam page", "/demo/"),
            ("Dashboard", "/dashboard/"),
            ("Admin", "/admin/"),
            ("API docs", "/api/docs/"),
            ("Health", "/healthz"),
        ]
        lines = [
            "",
            "Proctorme is starting (embedded mode: SQLite, in-memory channels, in-process tasks)",
            *(f"  {label:<17} {base}{path}" for label, path in pages if _exists(path)),
            f"  Admin login       {values.get('admin_login', '?')}",
            f"  Reviewer login    {values.get('reviewer_login', '?')}",
            f"  Operator login    {values.get('operator_login', '?')}  (superuser)",
            f"  Publishable key   {values.get('publishable_key', '?')}",
            f"  Secret key        {values.get('secret_key', '?')}  (REST API: never put it in a page)",
            f"  Signing key       {values.get('attempt_signing_key', '?')}  (signs attempt ids only)",
            "",
        ]
        self.stdout.write("\n".join(lines))
