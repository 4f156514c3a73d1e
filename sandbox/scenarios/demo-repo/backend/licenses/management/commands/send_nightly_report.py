"""Nightly summary of licence usage, mailed to NIGHTLY_REPORT_RECIPIENTS.

Runs as CronJob coditect-nightly-report at 02:00 UTC.
"""

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.core.management.base import BaseCommand
from django.db.models import Count
from django.utils import timezone

from licenses.models import License, UsageEvent


class Command(BaseCommand):
    help = "Mail yesterday's licence usage summary."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="print the report instead of mailing it")

    def handle(self, *args, dry_run, **options):
        since = timezone.now() - timedelta(days=1)
        by_status = dict(License.objects.values_list("status").annotate(n=Count("id")))
        events = dict(UsageEvent.objects.filter(occurred_at__gte=since).values_list("kind").annotate(n=Count("id")))
        lines = ["Nightly licence report (last 24 hours)", ""]
        lines += [f"licences {status}: {by_status.get(status, 0)}" for status in License.Status.values]
        lines += [f"events {kind}: {events.get(kind, 0)}" for kind in UsageEvent.Kind.values]
        body = "\n".join(lines)

        # Without recipients (staging) the report goes to the job log only.
        if dry_run or not settings.NIGHTLY_REPORT_RECIPIENTS:
            self.stdout.write(body)
            return
        send_mail("Nightly licence report", body, None, settings.NIGHTLY_REPORT_RECIPIENTS)
        self.stdout.write(self.style.SUCCESS(f"report sent to {len(settings.NIGHTLY_REPORT_RECIPIENTS)} recipient(s)"))
