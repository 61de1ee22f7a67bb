"""One settings module, fed by the environment.

Every value a deployment may change is read through the small typed helpers
below, which raise ImproperlyConfigured on a value they cannot parse, so a
typo in the environment stops the process at start-up instead of later.

Environment variables (defaults in brackets):

  DEBUG                      [off; manage.py without a SECRET_KEY and make run turn it on] development
                             mode; also allows the built-in SECRET_KEY
  SECRET_KEY                 required unless DEBUG
  ALLOWED_HOSTS              [localhost,127.0.0.1,[::1] in DEBUG, else none] comma-separated
  CSRF_TRUSTED_ORIGINS       [none] comma-separated, e.g. https://colour.example.org
  DATABASE_URL               [sqlite:///<BASE_DIR>/var/db.sqlite3] e.g. postgres://user@host:5432/colorsite
  REDIS_URL                  [redis://127.0.0.1:6379/0] Celery's broker
  MEDIA_ROOT                 [<BASE_DIR>/var/media] uploaded originals, results, thumbnails
  COLORSITE_S3_BUCKET        [unset: media in MEDIA_ROOT] keep media and model versions in this S3 bucket
  COLORSITE_S3_PREFIX        [none] a folder inside the bucket for everything the site writes
  AWS_S3_ENDPOINT_URL        [AWS] an S3-compatible server's address (MinIO, Ceph, …)
  AWS_S3_REGION_NAME         [boto3's] the bucket's region
  AWS_S3_ADDRESSING_STYLE    [path with an endpoint URL, else auto] path or virtual
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY [boto3's chain: an instance role] the bucket's keys
  COLORSITE_S3_TIMEOUT       [10] seconds to connect to the bucket (reads may take 3 x this)
  COLORSITE_MODEL_CACHE      [<BASE_DIR>/var/model-cache] this host's copies of model versions, by SHA-256
  COLORSITE_MODELS_IN_STORAGE [on with COLORSITE_S3_BUCKET] publish model versions to the media storage
  STATIC_ROOT                [<BASE_DIR>/var/static] where collectstatic puts files for WhiteNoise
  STATIC_MANIFEST            [on unless DEBUG] serve collectstatic's hashed files (off: the source folders)
  COLORSITE_MODEL_DIR        [<BASE_DIR>/models/default] model.json + model.keras
  COLORSITE_MAX_UPLOAD_BYTES [26214400 = 25 MiB] per file
  COLORSITE_MAX_PIXELS       [50000000] per file, width x height
  COLORSITE_TASK_SOFT_TIME_LIMIT [300] seconds; the hard limit is 1.2 x this
  COLORSITE_PAGE_SIZE        [24] photos per gallery page
  COLORSITE_OPEN_SIGNUP      [on] whether anybody may create an account
  COLORSITE_QUEUE            [colorsite] the Celery queue the web enqueues to and workers read
  COLORSITE_TRAINING_QUEUE   [<COLORSITE_QUEUE>-training] the queue of training runs started from the staff pages
  COLORSITE_MODELS_ROOT      [<BASE_DIR>/var/models] where those runs write their model folders (<version id>/)
  COLORSITE_EVAL_EXAMPLES    [0 = the whole test splits, 809 + 842 photos] test photos of each collection a new
                             version is evaluated on (landscape and everyday photos)
  COLORSITE_PHOTOS           [the engine's default, ../shared/datasets/photos] the everyday-photos dataset that
                             training runs read and that new versions and leaderboards are scored and drawn from
  COLORSITE_LEADERBOARD_SIZE [10] the most best / worst photos a leaderboard shows (pictures drawn per version)
  COLORSITE_TRAINING_TIME_LIMIT [43200] seconds a training run may take (soft; hard limit 1.2 x this)
  COLORSITE_TRAINING_STALE_AFTER [3600] seconds without news after which a run counts as abandoned
  COLORSITE_TRAINING_CACHE_DIR [<BASE_DIR>/.cache/ml] decoded-dataset cache for training runs ("" = none)
  COLORSITE_UPLOADS_PER_HOUR [300] photos one person may upload in any hour (0: no limit)
  COLORSITE_QUOTA_BYTES      [2147483648 = 2 GiB] bytes of uploads and results one person may keep (0: no limit)
  COLORSITE_WORK_PER_HOUR    [1000] units of colouring work one person may ask for in an hour, uploads and
                             re-colours alike; a unit is a megapixel at working size 256 (0: no limit)
  COLORSITE_IN_FLIGHT_PER_PERSON [4] photos of one person sent to the workers at once; the rest wait (0: no cap)
  COLORSITE_SWEEP_INTERVAL   [60] seconds between sweeps that re-send photos whose task was lost
  COLORSITE_AUTO_RETRIES     [5] times the sweep queues again a photo that failed for a transient reason (0: never)
  COLORSITE_AUTO_RETRY_DELAY [120] seconds before the first of those retries; each wait doubles the last
  COLORSITE_BEAT_SCHEDULE    [<BASE_DIR>/var/celerybeat-schedule] the file where `celery beat` keeps its schedule
  SECURE_COOKIES             [on unless DEBUG] session and CSRF cookies only over HTTPS
  SECURE_SSL_REDIRECT        [as SECURE_COOKIES] redirect plain-HTTP requests to HTTPS
  SECURE_HSTS_SECONDS        [31536000 when redirecting, else 0] how long browsers keep to HTTPS
  SECURE_HSTS_PRELOAD        [off] ask to be on the browsers' preload list (hard to undo)
  BEHIND_TLS_PROXY           [off] trust X-Forwarded-Proto from the proxy in front
  CONN_MAX_AGE               [0] seconds a database connection is kept
  EMAIL_HOST                 [unset: password-reset mails are printed on the console in DEBUG, sent
                             through localhost:25 otherwise] the SMTP server for password-reset mails
  EMAIL_PORT                 [25] its port
  EMAIL_HOST_USER            [none] its user name
  EMAIL_HOST_PASSWORD        [none] its password
  EMAIL_USE_TLS              [off] STARTTLS (port 587 usually)
  DEFAULT_FROM_EMAIL         [colorsite <webmaster@localhost>] the sender of the site's mails
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"the environment variable {name} must be set")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below its minimum {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "dev-only-not-secret-" + "x" * 40)
else:
    SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "gallery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "gallery.api_errors.ApiErrorMiddleware",  # every answer under /api/ is JSON (before CSRF: it rewrites its 403)
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gallery.middleware.ApiTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "colorsite.urls"
WSGI_APPLICATION = "colorsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gallery.context_processors.staff_alerts",
            ],
        },
    },
]

# --- database: SQLite by default, anything dj-database-url reads (PostgreSQL) when set ----------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)  # var/ on a fresh clone
    # The web server and the worker write to one file: WAL lets readers go on while a writer
    # writes, IMMEDIATE transactions take the write lock up front (no deadlock on upgrade), and
    # the timeout makes a busy writer wait instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests run real worker processes against the test database, so it must be a file, not memory;
    # one per test run, so two runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "gallery-upload"
LOGOUT_REDIRECT_URL = "gallery-public"

# --- e-mail: password-reset links ---------------------------------------------------------------------
# Development (DEBUG, no EMAIL_HOST) prints each mail, reset link included, in the terminal that runs
# `make run`; anywhere else mails go out by SMTP.  A mail that cannot be sent is logged by Django's
# reset form, and the person sees the same page either way (nobody learns which addresses exist).
_email_host = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG and not _email_host
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = _email_host or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10  # seconds: an SMTP server that does not answer must not hold a web request for ever
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "colorsite <webmaster@localhost>")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static files (WhiteNoise) and media -----------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Media is never served by URL: photos are private, so every file goes through a view that checks
# who may see it (gallery.views.photo_file).  MEDIA_URL is set only because Django wants one.
MEDIA_URL = "/media-not-served/"
# Production serves compressed, content-hashed files that `manage.py collectstatic` wrote; development
# and tests serve the source folders directly (no collectstatic step needed).
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static"))) if STATIC_MANIFEST else None
STORAGES: dict[str, dict] = {
    # Writes each file under a temporary name and links it into place: never a half-written photo.
    "default": {"BACKEND": "gallery.storage.AtomicFileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Media in S3-compatible object storage instead (docs/deploy.md): set COLORSITE_S3_BUCKET.  Keys come from
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or boto3's own chain (an instance role) when those are unset.
COLORSITE_S3_BUCKET = env_str("COLORSITE_S3_BUCKET", "")
if COLORSITE_S3_BUCKET:
    from botocore.config import Config as _BotoConfig

    _endpoint = env_str("AWS_S3_ENDPOINT_URL", "") or None
    STORAGES["default"] = {
        "BACKEND": "gallery.storage.S3MediaStorage",
        "OPTIONS": {
            "bucket_name": COLORSITE_S3_BUCKET,
            "location": env_str("COLORSITE_S3_PREFIX", ""),
            "endpoint_url": _endpoint,
            "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
            # MinIO, Ceph and the test server answer on one host name: bucket in the path, not the host.
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE", "path" if _endpoint else "auto"),
            "signature_version": "s3v4",
            "default_acl": "private",  # nothing in the bucket is public ...
            "querystring_auth": True,  # ... and a URL of it, should one ever be made, is signed and short-lived
            "querystring_expire": 300,
            "file_overwrite": False,  # a name once written is never replaced (versioned URLs cache for good)
            "client_config": _BotoConfig(
                connect_timeout=env_int("COLORSITE_S3_TIMEOUT", 10, minimum=1),
                read_timeout=env_int("COLORSITE_S3_TIMEOUT", 10, minimum=1) * 3,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        },
    }
# Each host's own copy of the model versions it colours with, one folder per artefact's SHA-256
# (gallery.model_store); with object storage, trained versions reach the workers through the bucket.
COLORSITE_MODEL_CACHE = Path(env_str("COLORSITE_MODEL_CACHE", str(BASE_DIR / "var" / "model-cache")))
# Whether model versions are published to the media storage as artefacts: on with object storage.
COLORSITE_MODELS_IN_STORAGE = env_bool("COLORSITE_MODELS_IN_STORAGE", bool(COLORSITE_S3_BUCKET))
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = DEBUG

# --- uploads --------------------------------------------------------------------------------------
COLORSITE_MAX_UPLOAD_BYTES = env_int("COLORSITE_MAX_UPLOAD_BYTES", 25 * 1024 * 1024, minimum=1)
COLORSITE_MAX_PIXELS = env_int("COLORSITE_MAX_PIXELS", 50_000_000, minimum=1)
# The request body may hold several files at once; Django's own cap must not cut a batch short.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # non-file fields only
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # larger files spill to a temporary file
DATA_UPLOAD_MAX_NUMBER_FILES = 100
COLORSITE_PAGE_SIZE = env_int("COLORSITE_PAGE_SIZE", 24, minimum=1)
COLORSITE_OPEN_SIGNUP = env_bool("COLORSITE_OPEN_SIGNUP", True)
# Per person (gallery.limits): uploads in any rolling hour, and the bytes they keep (gallery.quota).
COLORSITE_UPLOADS_PER_HOUR = env_int("COLORSITE_UPLOADS_PER_HOUR", 300, minimum=0)
COLORSITE_QUOTA_BYTES = env_int("COLORSITE_QUOTA_BYTES", 2 * 1024**3, minimum=0)
# Colouring work per person and hour (gallery.work_budget): megapixels x working-size factor per job.
COLORSITE_WORK_PER_HOUR = env_int("COLORSITE_WORK_PER_HOUR", 1000, minimum=0)
# Photos of one person in the broker or running at once (gallery.fair_queue); the others wait their turn.
COLORSITE_IN_FLIGHT_PER_PERSON = env_int("COLORSITE_IN_FLIGHT_PER_PERSON", 4, minimum=0)

# --- the colouring model ----------------------------------------------------------------------------
COLORSITE_MODEL_DIR = Path(env_str("COLORSITE_MODEL_DIR", str(BASE_DIR / "models" / "default")))

# --- Celery (read by colorsite/celery.py with namespace CELERY) --------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_SOFT_TIME_LIMIT = env_int("COLORSITE_TASK_SOFT_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_TIME_LIMIT = int(CELERY_TASK_SOFT_TIME_LIMIT * 1.2) + 1
# Redis redelivers an unacknowledged message after visibility_timeout; with acks_late a task is
# acknowledged only when it ends, so this must exceed the hard limit or a long task runs twice.
# The socket timeouts keep a web request from hanging on a Redis that does not answer.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT * 2 + 60,
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}
# An upload must not wait long on a broker that is down: one quick retry, then the photo stays queued
# (the web page says it waits) and the sweep below sends it once Redis answers again.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
CELERY_TASK_ACKS_LATE = True
# When Redis goes away, a photo being coloured carries on: its row (not Redis) records the result, and
# the message it could not acknowledge comes back later as a duplicate that Photo.claim turns away.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # long ML tasks: a worker takes one at a time
CELERY_TASK_IGNORE_RESULT = True  # state lives in the Photo row
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = env_str("COLORSITE_QUEUE", "colorsite")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The sweep (gallery.tasks.sweep) re-sends queued photos whose message was lost (Redis was down or
# restarted empty), takes back photos a dead worker left running, and retries transient failures.  Run by
# `celery beat` (`make run` starts one; or a worker started with -B); every worker also sweeps once when it starts.
COLORSITE_SWEEP_INTERVAL = env_int("COLORSITE_SWEEP_INTERVAL", 60, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "sweep": {
        "task": "gallery.tasks.sweep",
        "schedule": COLORSITE_SWEEP_INTERVAL,
        "options": {"expires": COLORSITE_SWEEP_INTERVAL},
    }
}  # none piles up in a backlog
CELERY_BEAT_SCHEDULE_FILENAME = env_str("COLORSITE_BEAT_SCHEDULE", str(BASE_DIR / "var" / "celerybeat-schedule"))
# A photo that failed for a reason outside itself (storage, the model file, the broker) is queued again by
# the sweep after a wait that doubles each time, a bounded number of times (gallery.auto_retry).
COLORSITE_AUTO_RETRIES = env_int("COLORSITE_AUTO_RETRIES", 5, minimum=0)
COLORSITE_AUTO_RETRY_DELAY = env_int("COLORSITE_AUTO_RETRY_DELAY", 120, minimum=0)

# --- model versions and training from the staff pages -------------------------------------------------
COLORSITE_MODELS_ROOT = Path(env_str("COLORSITE_MODELS_ROOT", str(BASE_DIR / "var" / "models")))
# Training runs on a queue of its own, read by a worker of its own, so photos keep being coloured
# (gallery.enqueue sends training runs and leaderboard pictures there).
COLORSITE_TRAINING_QUEUE = env_str("COLORSITE_TRAINING_QUEUE", f"{CELERY_TASK_DEFAULT_QUEUE}-training")
COLORSITE_TRAINING_TIME_LIMIT = env_int("COLORSITE_TRAINING_TIME_LIMIT", 12 * 3600, minimum=60)
COLORSITE_TRAINING_STALE_AFTER = env_int("COLORSITE_TRAINING_STALE_AFTER", 3600, minimum=60)
COLORSITE_EVAL_EXAMPLES = env_int("COLORSITE_EVAL_EXAMPLES", 0, minimum=0)
# None: the engine's own default (ml.data.dataset_root reads COLORSITE_PHOTOS too, then ../shared/datasets/photos).
_photos = env_str("COLORSITE_PHOTOS", "")
COLORSITE_PHOTOS_DATASET = Path(_photos) if _photos else None
COLORSITE_LEADERBOARD_SIZE = env_int("COLORSITE_LEADERBOARD_SIZE", 10, minimum=1)
_cache = env_str("COLORSITE_TRAINING_CACHE_DIR", str(BASE_DIR / ".cache" / "ml"))
COLORSITE_TRAINING_CACHE_DIR = Path(_cache) if _cache else None

# --- security for production -------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# HTTPS only: plain-HTTP requests are redirected, and HSTS tells browsers never to try HTTP again.
# Both follow SECURE_COOKIES, so development (DEBUG) and the tests (SECURE_COOKIES=0) stay on HTTP.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SESSION_COOKIE_SECURE)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if SECURE_SSL_REDIRECT else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Anybody may submit a domain that sends the preload flag to the browsers' list, and leaving it takes
# months: that is the operator's decision (SECURE_HSTS_PRELOAD=1), so check --deploy does not nag about it.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# A load balancer probes /healthz over plain HTTP on the private network: answered, not redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "gallery": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
        # A server error's traceback goes to the log in production too (Django prints it only in DEBUG).
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
