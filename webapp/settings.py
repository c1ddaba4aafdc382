"""Django settings for PartEdit, read from environment variables only.

Every variable is documented in README.md ("Configuration"). Defaults are the safe production
ones: DEBUG off, SECRET_KEY and REDIS_URL required unless DEBUG is on.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable (1/0, true/false, yes/no, on/off)."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated environment variable as a list of non-empty items."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_value(name: str) -> str:
    """A variable's value, or the content of the file named by ``<name>_FILE`` (Docker/systemd secrets)."""
    value = os.environ.get(name, "")
    secret_file = os.environ.get(f"{name}_FILE", "")
    if not value and secret_file:
        try:
            return Path(secret_file).read_text().strip()
        except OSError as error:
            raise ImproperlyConfigured(f"{name}_FILE={secret_file!r} cannot be read: {error}") from error
    return value


def env_required_unless_debug(name: str, debug_default: str) -> str:
    """Read a variable that production must set; DEBUG runs fall back to ``debug_default``."""
    value = env_value(name)
    if value:
        return value
    if DEBUG:
        return debug_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see README.md, Configuration)")


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_required_unless_debug("SECRET_KEY", "insecure-debug-only-key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
REDIS_URL = env_required_unless_debug("REDIS_URL", "redis://127.0.0.1:6379/0")

INSTALLED_APPS = [
    # daphne first: its `runserver` serves the ASGI application, WebSockets included.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Failed sign-ins per account and per address (admin and studio sign-in; the token view too).
    "axes",
    "webapp.preview",
    "webapp.teams",
    "webapp.assets",
    "webapp.annotations",
    "webapp.library",
    "webapp.editsessions",
    "webapp.jobs",
    "webapp.studio",
]

MIDDLEWARE = [
    # /healthz answers before host checks and HTTPS redirects: probes come by IP over plain HTTP.
    "webapp.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "webapp.api.middleware.refuse_nul_in_query",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: turns a locked-out sign-in into a 429.
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if "DATABASE_URL" not in os.environ:
    VAR_DIR.mkdir(exist_ok=True)
SQLITE_BUSY_TIMEOUT = 20
# Connections are closed when each request (or task) ends: under ASGI every request runs in a
# thread of its own, and persistent connections (CONN_MAX_AGE > 0) stayed open, one per thread that
# ever served a request, until PostgreSQL refused new clients (docs/operations.md, "Database").
DATABASES = {
    "default": dj_database_url.config(default=f"sqlite:///{VAR_DIR / 'partedit.sqlite3'}", conn_max_age=0)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers wait for each other instead of failing with "database is locked": WAL lets
    # readers and one writer proceed together, IMMEDIATE takes the write lock when a transaction
    # starts (a deferred one that upgrades later fails at once when another writer holds it), and a
    # waiting writer gives up only after SQLITE_BUSY_TIMEOUT seconds.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": SQLITE_BUSY_TIMEOUT,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# PostgreSQL connection pool of each web process (webapp/db_pool.py; daphne installs it, workers,
# the sweeper and management commands keep one connection at a time, closed after each task or
# command): at most PARTEDIT_DB_POOL_MAX connections per web process; a request that finds them all
# busy for PARTEDIT_DB_POOL_TIMEOUT seconds is answered 503 `database_busy`. 0 turns the pool off.
PARTEDIT_DB_POOL_MAX = int(os.environ.get("PARTEDIT_DB_POOL_MAX") or "10")
PARTEDIT_DB_POOL_TIMEOUT = float(os.environ.get("PARTEDIT_DB_POOL_TIMEOUT") or "10")
if PARTEDIT_DB_POOL_MAX < 0 or PARTEDIT_DB_POOL_TIMEOUT <= 0:
    raise ImproperlyConfigured("PARTEDIT_DB_POOL_MAX must be >= 0 and PARTEDIT_DB_POOL_TIMEOUT > 0")
DATABASE_POOL: dict[str, int | float] | None = None
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and PARTEDIT_DB_POOL_MAX:
    DATABASE_POOL = {"min_size": min(2, PARTEDIT_DB_POOL_MAX), "max_size": PARTEDIT_DB_POOL_MAX,
                     "timeout": PARTEDIT_DB_POOL_TIMEOUT}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
# Only `collectstatic` writes here; WhiteNoise serves the ES modules straight from the finders.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")
# Media storage (docs/operations.md, "Media storage"): "filesystem" keeps files under MEDIA_ROOT (a
# shared filesystem when processes run on several hosts); "s3" keeps them in an S3-compatible bucket
# (MinIO, AWS S3) through django-storages. Workers cache downloaded files and models (by weights
# hash) under PARTEDIT_CACHE_DIR.
PARTEDIT_STORAGE = os.environ.get("PARTEDIT_STORAGE", "filesystem")
PARTEDIT_CACHE_DIR = Path(os.environ.get("PARTEDIT_CACHE_DIR") or VAR_DIR / "cache")
if PARTEDIT_STORAGE == "filesystem":
    _MEDIA_STORAGE: dict[str, object] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif PARTEDIT_STORAGE == "s3":
    if not os.environ.get("PARTEDIT_S3_BUCKET"):
        raise ImproperlyConfigured("PARTEDIT_S3_BUCKET must be set when PARTEDIT_STORAGE=s3")
    _s3_endpoint = os.environ.get("PARTEDIT_S3_ENDPOINT_URL") or None
    _MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["PARTEDIT_S3_BUCKET"],
            "endpoint_url": _s3_endpoint,
            "region_name": os.environ.get("PARTEDIT_S3_REGION") or None,
            # Unset: boto3's own chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, an instance role).
            "access_key": env_value("PARTEDIT_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_value("PARTEDIT_S3_SECRET_ACCESS_KEY") or None,
            # MinIO and most self-hosted stores want path-style URLs.
            "addressing_style": "path" if _s3_endpoint else None,
            "signature_version": "s3v4",
            # Names are fresh UUIDs: no existence check before each upload.
            "file_overwrite": True,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    raise ImproperlyConfigured(f"PARTEDIT_STORAGE must be filesystem or s3; got {PARTEDIT_STORAGE!r}")
STORAGES = {
    "default": _MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# HTTPS (docs/operations.md, "Security settings"). Behind TLS (secure cookies, the production
# default) plain-HTTP requests are redirected and browsers are told to use HTTPS for a year.
# A TLS-terminating proxy must then set X-Forwarded-Proto, trusted with TRUST_X_FORWARDED_PROTO.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SESSION_COOKIE_SECURE)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS") or (31_536_000 if SECURE_SSL_REDIRECT else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Trusted reverse proxies in front of daphne that append the client to X-Forwarded-For (0: none,
# the client is REMOTE_ADDR); sign-in throttles count per client address through it.
PARTEDIT_PROXY_COUNT = int(os.environ.get("PARTEDIT_PROXY_COUNT") or "0")

# Content-Security-Policy on every response: scripts, styles, fonts only from this origin (no
# inline code), images also from data: and blob: URLs (canvas, frames as object URLs), fetches and
# WebSockets to this origin ('self' covers ws:/wss: of the same host) and of this page's object
# URLs (blob:), no plugins, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", "blob:"],
        "media-src": ["'self'", "blob:"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Sign-in throttling (django-axes): after PARTEDIT_LOGIN_FAILURE_LIMIT failed sign-ins for one
# username, or from one address, further attempts get 429 for PARTEDIT_LOGIN_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = int(os.environ.get("PARTEDIT_LOGIN_FAILURE_LIMIT") or "10")
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("PARTEDIT_LOGIN_COOLOFF_MINUTES") or "15"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = PARTEDIT_PROXY_COUNT or None
AXES_IPWARE_PROXY_ORDER = "right-most"
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if PARTEDIT_PROXY_COUNT else ("REMOTE_ADDR",)
)

# The shared cache (Redis): the token view's throttles and the preview render budgets count here,
# across every web process.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# channels-redis waits up to 5 s in each blocking read (BZPOPMIN) of a consumer's channel, and
# redis-py 6+ gives every socket a 5 s read timeout by default: the two race, and an idle
# WebSocket consumer dies with "Timeout reading from ...". Reads get a longer timeout here.
CHANNEL_LAYER_SOCKET_TIMEOUT = 30
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT}],
            "capacity": 200,
            "expiry": 30,
        },
    }
}

# Engine, used only by worker processes (web processes never import torch).
PARTEDIT_MODEL_PATH = Path(os.environ.get("PARTEDIT_MODEL_PATH") or BASE_DIR / "models" / "demo")
PARTEDIT_DEVICE = os.environ.get("PARTEDIT_DEVICE", "auto")
if PARTEDIT_DEVICE not in {"auto", "cpu", "cuda"}:
    raise ImproperlyConfigured(f"PARTEDIT_DEVICE must be auto, cpu or cuda; got {PARTEDIT_DEVICE!r}")
# Intra-op CPU threads of torch in each worker process; 0 leaves torch's default (one per core).
_torch_threads = os.environ.get("PARTEDIT_TORCH_THREADS", "").strip() or "0"
if not _torch_threads.isdecimal():
    raise ImproperlyConfigured(f"PARTEDIT_TORCH_THREADS must be a whole number >= 0; got {_torch_threads!r}")
PARTEDIT_TORCH_THREADS = int(_torch_threads)
# Port of a worker's own GET /healthz listener (webapp/worker_health.py); 0 or unset: none.
PARTEDIT_WORKER_HEALTH_PORT = int(os.environ.get("PARTEDIT_WORKER_HEALTH_PORT") or "0")

# Celery (webapp/celery.py reads every CELERY_* name below).
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_DEFAULT_QUEUE = "gpu"
# Short interactive renders never wait behind long jobs (embedding, editing, training) on `gpu`.
CELERY_TASK_ROUTES = {"preview.*": {"queue": "preview"}}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "3600"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A job whose whole worker died is redelivered by Redis after this many seconds (late acks);
# it must exceed the longest job, or a job still running would be delivered a second time.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", str(CELERY_TASK_TIME_LIMIT + 300)))
}

# Jobs (docs/jobs.md): per-team limit of queued + running jobs on the `gpu` queue, runs of a job
# before it is failed as crashing its worker, progress and cancel throttles, soft time limit.
JOBS_MAX_ACTIVE_GPU_JOBS_PER_TEAM = int(os.environ.get("JOBS_MAX_ACTIVE_GPU_JOBS_PER_TEAM", "2"))
JOBS_MAX_ATTEMPTS = int(os.environ.get("JOBS_MAX_ATTEMPTS", "3"))
JOBS_PROGRESS_EVERY_STEPS = 5
JOBS_PROGRESS_EVERY_SECONDS = 1.0
JOBS_CANCEL_POLL_SECONDS = 0.5
JOBS_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 30, CELERY_TASK_TIME_LIMIT * 9 // 10)
# Lost jobs (docs/jobs.md, "Heartbeat and sweeper"): a worker writes a running job's heartbeat every
# JOBS_HEARTBEAT_SECONDS; the sweeper (manage.py sweep_jobs, every JOBS_SWEEP_SECONDS) re-runs or
# fails a running job whose heartbeat is older than JOBS_HEARTBEAT_TIMEOUT, and enqueues again a job
# queued that long without a broker message.
JOBS_HEARTBEAT_SECONDS = float(os.environ.get("JOBS_HEARTBEAT_SECONDS", "10"))
JOBS_HEARTBEAT_TIMEOUT = float(os.environ.get("JOBS_HEARTBEAT_TIMEOUT", "60"))
JOBS_SWEEP_SECONDS = float(os.environ.get("JOBS_SWEEP_SECONDS", "30"))

# REST API (docs/api.md): token auth for scripts, session auth for the browser, one error shape.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Bounded JSON (nesting, finite numbers, no NUL) and forms without NUL characters (webapp/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "webapp.api.parsers.BoundedJSONParser",
        "webapp.api.parsers.CheckedFormParser",
        "webapp.api.parsers.CheckedMultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "webapp.api.pagination.Pagination",
    "EXCEPTION_HANDLER": "webapp.api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # POST /api/auth/token/: per client address and per username (webapp/api/throttles.py).
    "DEFAULT_THROTTLE_RATES": {
        "sign-in-address": os.environ.get("PARTEDIT_SIGN_IN_RATE") or "10/min",
        "sign-in-username": os.environ.get("PARTEDIT_SIGN_IN_RATE") or "10/min",
    },
    "NUM_PROXIES": PARTEDIT_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PartEdit API",
    "DESCRIPTION": "Teams, models, images, annotations, the edit-vector library and edit sessions.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs are for signed-in users unless PARTEDIT_PUBLIC_API_DOCS is on.
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.AllowAny"
        if env_bool("PARTEDIT_PUBLIC_API_DOCS", False)
        else "rest_framework.permissions.IsAuthenticated"
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webapp.api.schema.add_error_responses",
    ],
}
# Uploads: photos over either limit are refused with 413 before their pixels are decoded.
PARTEDIT_MAX_UPLOAD_BYTES = int(os.environ.get("PARTEDIT_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
PARTEDIT_MAX_UPLOAD_PIXELS = int(os.environ.get("PARTEDIT_MAX_UPLOAD_PIXELS", str(40_000_000)))
# Checkpoints uploaded on the Models page (import_model jobs): their size limit, and where the
# converted model folders go (a path every worker host sees, like PARTEDIT_MODEL_PATH).
PARTEDIT_MAX_CHECKPOINT_BYTES = int(os.environ.get("PARTEDIT_MAX_CHECKPOINT_BYTES", str(1024**3)))
PARTEDIT_IMPORTED_MODELS_DIR = Path(os.environ.get("PARTEDIT_IMPORTED_MODELS_DIR") or VAR_DIR / "models")
# At most this many uploads are decoded at once per web process (each can take hundreds of MB).
PARTEDIT_UPLOAD_DECODES = int(os.environ.get("PARTEDIT_UPLOAD_DECODES", "2"))
# A new team gets the model at PARTEDIT_MODEL_PATH registered (manage.py register_demo_model does it later).
PARTEDIT_REGISTER_MODEL_FOR_NEW_TEAMS = env_bool("PARTEDIT_REGISTER_MODEL_FOR_NEW_TEAMS", True)
# Preview renders one user may ask for per minute, over all their sockets (0: no limit).
PARTEDIT_PREVIEW_RENDERS_PER_MINUTE = int(os.environ.get("PARTEDIT_PREVIEW_RENDERS_PER_MINUTE") or "600")

# One line per record on stderr (docs/operations.md, "Log format"): UTC time, level, process id,
# logger, message. Celery workers keep Celery's own format for the worker's records.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
                 "()": "webapp.logformat.UTCFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
