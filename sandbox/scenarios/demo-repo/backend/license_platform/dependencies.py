"""Start-up checks for the services the API cannot work without."""

import logging

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


def check_redis():
    """Ping REDIS_URL once; raise redis.exceptions.ConnectionError if it is unreachable."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5)
    client.ping()
    logger.info("redis reachable at %s", client.connection_pool.connection_kwargs.get("host"))
