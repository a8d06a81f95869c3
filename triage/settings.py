"""Settings read from the environment, with an embedded default that needs no server.

Embedded default (development, demo): SQLite, Celery filesystem broker and file result
backend under ``var/``. Production (``TRIAGE_ENV=production``): every secret and URL must
come from the environment and ``manage.py check --deploy`` is clean.
"""
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TRIAGE_VAR_DIR", BASE_DIR / "var"))

TRIAGE_ENV = os.environ.get("TRIAGE_ENV", "development")
PRODUCTION = TRIAGE_ENV == "production"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def development_secret_key() -> str:
    """Return a per-checkout key kept under var/, so none is ever committed."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when TRIAGE_ENV=production.")
    SECRET_KEY = development_secret_key()

DEBUG = env_bool("DEBUG", default=False)  # never on unless asked for (DEBUG=1): its pages list every URL
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "triage.core",
    "triage.accounts",
    "triage.audit",
    "triage.studies",
    "triage.results",
    "triage.reports",
    "triage.decisions",
    "triage.worklist",
    "triage.pipeline",
    "triage.gateway",
    "triage.exports",
    "triage.monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files with DEBUG off, embedded run and gunicorn alike
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "triage.core.middleware.RequestContextMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "triage.urls"
WSGI_APPLICATION = "triage.wsgi.application"

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
                "triage.web.navigation.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write concurrently: WAL plus immediate transactions
    # turn "database is locked" into short waits.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# An invitation's set-password link (triage/accounts/invites.py) expires after this.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("TRIAGE_INVITE_VALID_SECONDS", str(3 * 24 * 3600)))
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: 5 failures per username+IP lock that pair out for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
# Production serves what collectstatic wrote; the embedded run and tests serve the source folders.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

# Study files are stored here through Django's storage API and only ever served
# through authorised, audited views: there is deliberately no MEDIA_URL route.
STORAGE_ROOT = Path(os.environ.get("TRIAGE_STORAGE_ROOT", VAR_DIR / "storage"))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(STORAGE_ROOT), "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# In production study files go to an S3-compatible store instead (selected by the bucket),
# so web and workers share no disk; triage/core/object_store.py reads this.
TRIAGE_S3 = {
    "bucket": os.environ.get("TRIAGE_S3_BUCKET", ""),
    "endpoint_url": os.environ.get("TRIAGE_S3_ENDPOINT", ""),  # empty: AWS itself
    "region": os.environ.get("TRIAGE_S3_REGION", "us-east-1"),
    # Empty: boto3's own chain (instance role, AWS_* variables).
    "access_key": os.environ.get("TRIAGE_S3_ACCESS_KEY", ""),
    "secret_key": os.environ.get("TRIAGE_S3_SECRET_KEY", ""),
}
UPLOAD_MAX_BYTES = int(os.environ.get("TRIAGE_UPLOAD_MAX_BYTES", str(2 * 1024**3)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
DATA_UPLOAD_MAX_NUMBER_FILES = 5000

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "triage.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "triage.core.schema.NestedSerializerAutoSchema",
    "EXCEPTION_HANDLER": "triage.core.exception_handler.handle_api_exception",
    "DEFAULT_PAGINATION_CLASS": "triage.core.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CT Triage API",
    "DESCRIPTION": "Chest CT triage for COVID-19 pneumonia across hospitals.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: the machines that run this reach no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery -------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = os.environ.get(
    "CELERY_RESULT_BACKEND",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else f"file://{VAR_DIR / 'celery-results'}",
)
CELERY_BROKER_FOLDER = VAR_DIR / "celery-broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    for folder in (CELERY_BROKER_FOLDER, VAR_DIR / "celery-results", VAR_DIR / "celery-control"):
        folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER),
        "data_folder_out": str(CELERY_BROKER_FOLDER),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
else:
    # Redis re-delivers an unacknowledged task after visibility_timeout. It must exceed the
    # longest task (a large study on a busy GPU) or a running task would be run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", str(2 * 3600))),
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# A study is ingested once no new instance arrived for this long (Orthanc's StableAge), so a
# transfer still under way is never analysed as complete (triage/studies/stability.py).
STUDY_STABLE_AGE_S = int(os.environ.get("TRIAGE_STABLE_AGE_SECONDS", "20"))
# Each pipeline step's queue, and the analysis steps' time limits (s; ingest keeps the global
# CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT). The analysis is three tasks so that a GPU
# worker (``--queues gpu``) runs only the model: prepare and finish run on CPU workers
# (``--queues prepare,finish``), ingest on ``--queues ingest``; one machine consumes all four
# (docs/deployment.md, "Queues"). A step does a part of the old single task: half its limits.
TRIAGE_PIPELINE_QUEUES = {
    "ingest": {"queue": "ingest"},
    "prepare": {"queue": "prepare", "soft_time_limit": 600, "time_limit": 720},
    "classify": {"queue": "gpu", "soft_time_limit": 600, "time_limit": 720},
    "finish": {"queue": "finish", "soft_time_limit": 600, "time_limit": 720},
}
TRIAGE_ALL_QUEUES = ",".join(dict.fromkeys(step["queue"] for step in TRIAGE_PIPELINE_QUEUES.values()))
CELERY_BEAT_SCHEDULE = {
    # Studies left in "received" by a broker outage or a killed worker go back on the ingest queue.
    # An ingest whose worker died (claim not renewed for 30 s) is re-sent by the next run.
    "studies-requeue-stuck-received": {"task": "studies.requeue_stuck_studies", "schedule": 60.0},
    # Studies whose analysis message was lost, or whose worker died (its 30 s lease not renewed),
    # go back on the gpu queue: a crash delays a study by lease + this interval at most.
    "results-requeue-stuck-analyses": {"task": "results.requeue_stuck_analyses", "schedule": 20.0},
    # Ready studies whose candidate (shadow) analysis was never sent or got lost are sent again, once each.
    "results-requeue-missed-shadow": {"task": "results.requeue_missed_shadow_analyses", "schedule": 300.0},
    # Worklist rows a service forgot to refresh are rewritten (safety net; normally nothing to do).
    "worklist-sync-entries": {"task": "worklist.sync_entries", "schedule": 60.0},
    # Results due for a hospital's export destinations, and exports whose backoff has passed, are sent.
    "exports-send-due": {"task": "exports.send_due", "schedule": 30.0},
    # Overlay images no row names (an analysis rolled back after its puts, a deleted result) leave
    # the object store once past the collector's 24 h grace period.
    "results-collect-unreferenced-overlays": {"task": "results.collect_unreferenced_overlays", "schedule": 3600.0},
}

# --- E-mail (invitations) -----------------------------------------------------------------
# Embedded default: each message is written as a file under var/mail/ (nothing leaves the
# machine); production sends through SMTP. EMAIL_BACKEND overrides both (e.g. the console one).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION
                               else "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "CT Triage <ct-triage@localhost>")

# --- Security --------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # pynetdicom logs every C-STORE at INFO; the SCP logs one line per association instead.
    "loggers": {"axes": {"level": "WARNING"}, "pynetdicom": {"level": "WARNING"}},
}
