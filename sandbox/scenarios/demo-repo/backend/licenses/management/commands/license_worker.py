"""Background worker: expires licences, sends renewal reminders, closes stale sessions.

Runs as Deployment coditect-worker. It only needs the database: work is found by
polling, so a Redis outage does not stop expiries.
"""

import logging
import signal
import time
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from licenses.models import License, LicenseSession

logger = logging.getLogger("licenses.worker")


class Command(BaseCommand):
    help = "Run the licence maintenance loop until SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=int, default=60, help="seconds between passes")

    def handle(self, *args, interval, **options):
        self._running = True
        signal.signal(signal.SIGTERM, self._stop)
        logger.info("licence worker started, pass every %ss", interval)
        while self._running:
            started = time.monotonic()
            self.run_pass()
            time.sleep(max(0, interval - (time.monotonic() - started)))
        logger.info("licence worker stopped")

    def _stop(self, signum, frame):
        self._running = False

    def run_pass(self):
        now = timezone.now()
        with transaction.atomic():
            expired = License.objects.filter(status=License.Status.ACTIVE, expires_at__lte=now, auto_renew=False)
            count = expired.update(status=License.Status.EXPIRED)
        if count:
            logger.info("expired %d licence(s)", count)

        stale_before = now - timedelta(seconds=settings.LICENSE_SESSION_TIMEOUT_SECONDS)
        closed = LicenseSession.objects.filter(ended_at__isnull=True, last_heartbeat_at__lt=stale_before).update(
            ended_at=now
        )
        if closed:
            logger.info("closed %d stale session(s)", closed)

        remind_until = now + timedelta(days=settings.LICENSE_RENEWAL_REMINDER_DAYS)
        due = License.objects.filter(
            status=License.Status.ACTIVE,
            auto_renew=False,
            expires_at__lte=remind_until,
            renewal_reminder_sent_at__isnull=True,
        )
        for lic in due:
            recipient = lic.organization.billing_email or lic.organization.owner.email
            send_mail(
                f"Your {lic.get_plan_display()} licence expires on {lic.expires_at:%d %B %Y}",
                "Renew it from the licensing portal to keep your seats active.",
                None,
                [recipient],
            )
            lic.renewal_reminder_sent_at = now
            lic.save(update_fields=["renewal_reminder_sent_at"])
            logger.info("renewal reminder sent for licence %s", lic.pk)
