from django.test import TestCase

from users.models import User

from .models import Membership, Organization


class MembershipTests(TestCase):
    def test_member_role_is_the_default(self):
        owner = User.objects.create_user(username="owner", email="owner@example.com", password="x" * 16)
        org = Organization.objects.create(name="Acme", slug="acme", owner=owner)
        membership = Membership.objects.create(organization=org, user=owner)
        self.assertEqual(membership.role, Membership.Role.MEMBER)
