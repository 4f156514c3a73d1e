"""Local development and CI: debug on, console e-mail, a throwaway secret key."""

from .base import *  # noqa: F403
from .base import SECRET_KEY

DEBUG = True

# Never used outside a laptop or a CI runner.
SECRET_KEY = SECRET_KEY or "django-insecure-local-development-only"

ALLOWED_HOSTS = ["localhost", "127.0.0.1", "0.0.0.0"]

CORS_ALLOWED_ORIGINS = ["http://localhost:5173"]

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
