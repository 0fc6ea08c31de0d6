from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.models import ApiKey
from tenants.services import api_key_create, institution_create


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
        _, signing = api_key_create(
            institution=institution, kind=ApiKey.Kind.SIGNING, name="Default attempt-signing key"
        )
        self.stdout.write(f"institution_id: {institution.public_id}")
        self.stdout.write(f"publishable_key: {publishable}")
        self.stdout.write(f"secret_key: {secret}")
        self.stdout.write(f"attempt_signing_key: {signing}")
        if admin_email:
            self.stdout.write(f"admin_invitation: e-mailed to {admin_email.strip().lower()}")
        self.stderr.write(
            "The secret key opens the REST API: keep it on your servers, never in a page. "
            "An LMS plugin that puts its client secret into the candidate's page gets the "
            "attempt-signing key instead."
        )
