"""gunicorn settings for the API containers (k8s/staging/backend-deployment.yaml)."""

import os

bind = "0.0.0.0:8000"
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
timeout = 60
# Import the app once in the master: workers fork with Django already set up,
# and a broken release fails before any worker starts.
preload_app = True
graceful_timeout = 30
forwarded_allow_ips = "*"  # the Google load balancer is the only client
accesslog = "-"

# Cloud Logging stamps every line on ingestion; print level and pid only.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(levelname)s [%(process)d] %(message)s"},
        "access": {"format": "%(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"},
        "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
    },
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}
