"""Settings for the test suite: the production settings with test-only secrets and in-process layers.

The environment is patched only while the production settings are read, so subprocesses that
the end-to-end tests start see the caller's real REDIS_URL (or none).
"""

from __future__ import annotations

import os
from unittest import mock

with mock.patch.dict(
    os.environ,
    {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "test-only-secret-key",
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
    },
):
    from webapp.settings import *  # noqa: F403

# Unit tests never need a Redis: the channel layer lives in the test process and Celery
# tasks are enqueued on an in-memory broker (tests that run a task do so eagerly).
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Throttles and render budgets count in a per-process cache (cleared before each webapp test).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The test client speaks plain HTTP: no redirect to HTTPS (the production default behind TLS).
SECURE_SSL_REDIRECT = False
# The test process never pools its database connections (test threads would each hold one of the
# pool's for good; webapp/asgi.py, which installs the pool, is imported by the WebSocket tests).
# The daphne processes that integration tests start use the production settings, pool included.
DATABASE_POOL = None
