from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from tenants.models import Organization
from users.models import User

from .models import License, generate_license_key


class LicenseTests(TestCase):
    def setUp(self):
        owner = User.objects.create_user(username="owner", email="owner@example.com", password="x" * 16)
        self.org = Organization.objects.create(name="Acme", slug="acme", owner=owner)

    def test_generated_keys_are_grouped_by_four(self):
        key = generate_license_key()
        self.assertEqual(len(key), 39)
        self.assertEqual([len(part) for part in key.split("-")], [4] * 8)

    def test_expired_license_is_not_valid(self):
        lic = License.objects.create(organization=self.org, expires_at=timezone.now() - timedelta(days=1))
        self.assertFalse(lic.is_valid)

    def test_active_license_in_term_is_valid(self):
        lic = License.objects.create(organization=self.org, expires_at=timezone.now() + timedelta(days=30))
        self.assertTrue(lic.is_valid)
