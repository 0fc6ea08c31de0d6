from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.services import institution_create


class Command(BaseCommand):
    help = "Create an institution with its domains and first keys; prints the keys once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--domain", action="append", default=[], dest="domains", metavar="HOST")
        parser.add_argument("--admin-email")

    def handle(self, *args, name, domains, admin_email, **options):
        if not name.strip():
            raise CommandError("The institution needs a name.")
        try:
            institution, publishable, secret = institution_create(
                name=name.strip(), domains=domains, admin_email=admin_email
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"institution_id: {institution.public_id}")
        self.stdout.write(f"publishable_key: {publishable}")
        self.stdout.write(f"secret_key: {secret}")
