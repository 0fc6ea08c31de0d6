from django.core.management.base import BaseCommand

from sessions.demo.seeding import demo_sessions_seed


class Command(BaseCommand):
    help = "Seed Demo Academy with a few analysed demo sessions (real frames, flags, scores). Idempotent."

    def handle(self, *args, **options):
        result = demo_sessions_seed()
        for reason in result.skipped:
            self.stderr.write(f"skipping {reason}")
        self.stdout.write(f"demo sessions: {result.made} made, {result.kept} already there")
