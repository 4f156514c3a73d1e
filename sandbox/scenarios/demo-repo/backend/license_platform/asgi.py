"""
ASGI config for license_platform.

Not used by the clusters yet (gunicorn serves WSGI); kept for local experiments
with uvicorn: ``uvicorn license_platform.asgi:application``.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "license_platform.settings.production")

application = get_asgi_application()
