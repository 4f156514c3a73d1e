from django.test import TestCase

from .models import User


class UserModelTests(TestCase):
    def test_display_name_prefers_full_name(self):
        user = User(email="ada@example.com", username="ada", full_name="Ada Lovelace")
        self.assertEqual(str(user), "Ada Lovelace")

    def test_display_name_falls_back_to_email(self):
        user = User(email="grace@example.com", username="grace")
        self.assertEqual(str(user), "grace@example.com")
