from django.core.management.base import BaseCommand

from sessions.demo.institution import demo_institution_seed


class Command(BaseCommand):
    help = "Create (or refresh) the Demo Academy institution, its logins and keys. Idempotent."

    def handle(self, *args, **options):
        for name, value in demo_institution_seed().items():
            self.stdout.write(f"{name}: {value}")
