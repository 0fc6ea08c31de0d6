from django.core.management.base import BaseCommand

from sessions.services import media_purge_expired, sessions_expire_overdue


class Command(BaseCommand):
    help = "End overdue sessions and delete media past retention (Celery beat does this in production)."

    def handle(self, *args, **options):
        ended = sessions_expire_overdue()
        purged = media_purge_expired()
        self.stdout.write(f"ended_overdue: {ended}\npurged_media: {purged}")
