"""
WSGI config for license_platform.

It exposes the WSGI callable as a module-level variable named ``application``;
gunicorn loads it as ``license_platform.wsgi:application``.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "license_platform.settings.production")

application = get_wsgi_application()

# Licence validation answers come from the Redis cache: a worker that cannot reach
# Redis would fail every request, so fail at boot where the rollout notices it.
from license_platform.dependencies import check_redis  # noqa: E402

check_redis()
