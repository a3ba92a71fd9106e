"""Django settings, read from environment variables (see README.md, "Configuration").

``APP_ENV`` selects the mode: ``development`` (default), ``test`` or ``production``.
Production refuses to start without a real secret key, allowed hosts and both database URLs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from celery.schedules import crontab

from advisorportal.env import database_from_url, env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("APP_VAR_DIR", str(BASE_DIR / "var")))

APP_ENV = env_choice("APP_ENV", ("development", "test", "production"), "development")
PRODUCTION = APP_ENV == "production"

if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "Environment variable SECRET_KEY must be at least 50 random characters in production."
        )
else:
    SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-" + "x" * 40)

# Keys for field encryption at rest (tax ids): Fernet keys, newest first, comma-separated, so a key
# can be rotated in (crm/crypto.py). Required in production; elsewhere derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS") if PRODUCTION else env_list("FIELD_ENCRYPTION_KEYS", "")

# Custodian imports (imports/): size and row limits of a file, and who may add prices (global
# reference data every firm sees): the platform operators' emails, nobody by default.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 25 * 1024 * 1024, minimum=1)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 200_000, minimum=1)
IMPORT_PRICE_OPERATORS = [e.lower() for e in env_list("IMPORT_PRICE_OPERATORS", "")]

# Background jobs (advisorportal/jobs): a worker holds a job for JOB_LEASE_SECONDS after each
# progress write; a job whose lease runs out (its worker died) is queued again, up to
# JOB_MAX_ATTEMPTS attempts, then failed with a message and a retry button.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 120, minimum=5, maximum=3600)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1, maximum=20)

DEBUG = env_bool("DEBUG", not PRODUCTION and APP_ENV != "test")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") if PRODUCTION else env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "advisorportal.tenancy",
    "advisorportal.jobs",
    "advisorportal.links",
    "advisorportal.idempotency",
    "advisorportal.mail",
    "anymail",
    "advisorportal.notifications",
    "advisorportal.shell",
    "accounts",
    "crm",
    "portfolios",
    "funding",
    "onboarding",
    "billing",
    "reports",
    "reports.planning",
    "reports.statements",
    "portfolios.custodian",
    "crm.contact_io",
    "crm.merge",
    "crm.documents",
    "crm.agenda",
    "crm.agenda.calendar",
    "devtools",
]

MIDDLEWARE = [
    "advisorportal.client_address.ClientAddressMiddleware",
    "advisorportal.tenancy.middleware.RequestQueryCountMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "advisorportal.no_store.NoStoreMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.authentication.SessionFirmMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "advisorportal.tenancy.middleware.FirmScopeMiddleware",
    "advisorportal.request_context.RequestContextMiddleware",
    "accounts.preferences.DateFormatMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.sessions.SessionPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "advisorportal.unavailable.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "advisorportal.urls"
WSGI_APPLICATION = "advisorportal.wsgi.application"

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
                "accounts.context_processors.branding",
            ],
            "libraries": {"formats": "advisorportal.formats"},
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# "default" is the application role: owns no tables, no superuser, no BYPASSRLS.
# "owner" owns the schema and is used only by `manage.py migrate --database owner` and by the
# test runner to create the test database. See docs/architecture.md, "Tenancy".
_default_db = database_from_url("DATABASE_URL", env_str("DATABASE_URL"))
_owner_db = database_from_url("DATABASE_OWNER_URL", env_str("DATABASE_OWNER_URL"))
for _db in (_default_db, _owner_db):
    _db["ATOMIC_REQUESTS"] = True
    _db["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0, maximum=3600)
    _db["CONN_HEALTH_CHECKS"] = True
_owner_db["ATOMIC_REQUESTS"] = False
DATABASES = {"default": _default_db, "owner": _owner_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery, cache ----------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# A stalled Redis must not hold a request: each connect and each reply waits at most this long,
# and after a failure a process leaves Redis alone for REDIS_RETRY_SECONDS (advisorportal/cache.py).
REDIS_TIMEOUT_SECONDS = env_int("REDIS_TIMEOUT_MS", 500, minimum=50, maximum=10_000) / 1000
REDIS_RETRY_SECONDS = env_int("REDIS_RETRY_SECONDS", 5, minimum=0, maximum=300)
_cache_options = {
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
    "RETRY_SECONDS": REDIS_RETRY_SECONDS,
}
_cache = {
    "BACKEND": "advisorportal.cache.RedisCache",
    "LOCATION": REDIS_URL,
    "KEY_PREFIX": "ap",
    "KEY_FUNCTION": "advisorportal.cache.make_key",
    "OPTIONS": _cache_options,
}
CACHES = {
    # Errors raise (the request answers 503): its users keep generation counters beside cached
    # values, and a silently dropped bump would serve stale data once Redis is back.
    "default": _cache,
    # Errors are logged and answer as a miss: sessions (their rows are in PostgreSQL) and the API
    # rate limits (which then let requests through: advisorportal/throttling.py says why).
    "best_effort": {**_cache, "OPTIONS": {**_cache_options, "IGNORE_EXCEPTIONS": True}},
}
# kombu spells a Redis Unix socket "redis+socket://", redis-py "unix://".
CELERY_BROKER_URL = env_str(
    "CELERY_BROKER_URL",
    "redis+socket://" + REDIS_URL[len("unix://") :] if REDIS_URL.startswith("unix://") else REDIS_URL,
)
CELERY_RESULT_BACKEND = None
# Publishing a task from a request gives up within seconds when the broker stalls or is down (the
# request answers 503); the worker's own blocking reads wait 1 s, under the socket timeout.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Daily NAV and returns of every firm, after the day's closing prices and FX rates are in
    # (US close 21:00 UTC; price imports run before). One task per firm (portfolios.tasks).
    "portfolio-daily-values": {
        "task": "portfolios.tasks.daily_values_nightly",
        "schedule": crontab(minute=30, hour=23, day_of_week="mon-fri"),
    },
    # Emailed links that expired unused: closed, and their purpose told (one task per firm).
    "links-expire": {"task": "advisorportal.links.tasks.links_expire_all", "schedule": crontab(minute="*/15")},
    # Clients who have not answered an approval email: one reminder each (funding; one task per firm).
    "funding-reminders": {"task": "funding.tasks.funding_reminders_all", "schedule": crontab(minute="*/15")},
    # Background jobs whose worker died: queued again or failed, never left running (jobs.tasks).
    "jobs-sweep": {"task": "advisorportal.jobs.tasks.sweep_jobs", "schedule": 60.0},
    # Calendar reminders that are due, emailed once each (crm/agenda/calendar; one task per firm).
    "calendar-reminders": {"task": "crm.agenda.calendar.tasks.calendar_reminders_all", "schedule": 60.0},
    # Task reminders due today, emailed once each (crm/agenda; one task per firm).
    "task-reminders": {"task": "crm.agenda.tasks.task_reminders_all", "schedule": crontab(minute="*/15")},
    # Tasks that fell due: each assignee notified once in the app (crm/agenda/due.py; one task per firm).
    "task-due-notifications": {
        "task": "crm.agenda.tasks.task_due_notifications_all",
        "schedule": crontab(minute="*/15"),
    },
    # Scheduled report definitions that are due: one run each, its clients mailed once (reports/statements).
    "report-definitions": {"task": "reports.statements.tasks.definitions_due_all", "schedule": crontab(minute="*/15")},
}

# Emailed single-use links (advisorportal/links): how long a link stays valid unless its purpose
# or the caller says otherwise.
LINK_EXPIRY_HOURS = env_int("LINK_EXPIRY_HOURS", 72, minimum=1, maximum=30 * 24)

# --- Authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if APP_ENV == "test":
    # Argon2 is deliberately slow; tests create many users and check no password strength.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sessions and cookies -------------------------------------------------------------------------
# Read from Redis, written through to PostgreSQL: one round trip to the database fewer on every
# request. Revocation does not rest on the cache: SessionPolicyMiddleware checks the session's
# UserSession row on every request, and ending sessions deletes their cache entries too.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "best_effort"  # with Redis unavailable, sessions are read from PostgreSQL
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300, maximum=24 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The time zone a user's calendar shows in until they choose theirs (crm/agenda/calendar).
CALENDAR_DEFAULT_TIME_ZONE = env_str("CALENDAR_DEFAULT_TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

# --- Static and media files -------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Documents (crm/documents): the "documents" storage, never served under MEDIA_URL (every file goes
# through a view that checks firm, scope and right, and audits the read). Local disk by default; an
# S3-compatible store with DOCUMENTS_STORAGE=s3 (needs django-storages[s3]; docs/documents.md).
DOCUMENT_MAX_BYTES = env_int("DOCUMENT_MAX_BYTES", 20 * 1024 * 1024, minimum=1024, maximum=1024 * 1024 * 1024)
DOCUMENT_MAX_FILES = env_int("DOCUMENT_MAX_FILES", 20, minimum=1, maximum=100)
DOCUMENTS_ROOT = Path(env_str("DOCUMENTS_ROOT", str(VAR_DIR / "documents")))
if env_str("DOCUMENTS_STORAGE", "local") == "s3":
    STORAGES["documents"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("DOCUMENTS_S3_BUCKET"),
            "endpoint_url": env_str("DOCUMENTS_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("DOCUMENTS_S3_REGION", "") or None,
            "location": env_str("DOCUMENTS_S3_PREFIX", "documents"),
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
else:
    STORAGES["documents"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DOCUMENTS_ROOT), "base_url": "/no-public-url/", "directory_permissions_mode": 0o700,
                    "file_permissions_mode": 0o600},
    }  # fmt: skip
WHITENOISE_USE_FINDERS = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Email ------------------------------------------------------------------------------------
# An email service provider through django-anymail, which also reports bounces and complaints to
# /mail/anymail/<provider>/tracking/ (advisorportal/mail/delivery.py); or, when empty, SMTP in
# production and files under var/mail/ in development. The provider's own settings come from
# ANYMAIL_* variables as anymail names them (e.g. ANYMAIL_POSTMARK_SERVER_TOKEN).
EMAIL_PROVIDERS = ("amazon_ses", "brevo", "mailersend", "mailgun", "mailjet", "mailtrap", "mandrill", "postal",
                   "postmark", "resend", "scaleway", "sendgrid", "sparkpost", "unisender_go")  # fmt: skip
EMAIL_PROVIDER = env_choice("EMAIL_PROVIDER", ("", *EMAIL_PROVIDERS), "")
ANYMAIL = {name.removeprefix("ANYMAIL_"): value for name, value in os.environ.items() if name.startswith("ANYMAIL_")}
if EMAIL_PROVIDER and PRODUCTION and ":" not in ANYMAIL.get("WEBHOOK_SECRET", ""):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("EMAIL_PROVIDER needs ANYMAIL_WEBHOOK_SECRET (user:password) for its delivery reports.")
# Without a provider's secret, nobody can authenticate to the delivery-report webhooks.
ANYMAIL.setdefault("WEBHOOK_SECRET", f"reports:{secrets.token_urlsafe(32)}")
if EMAIL_PROVIDER:
    EMAIL_BACKEND = f"anymail.backends.{EMAIL_PROVIDER}.EmailBackend"
elif PRODUCTION:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
# Links in emails (invitations, approvals) point here.
SITE_URL = env_str("SITE_URL") if PRODUCTION else env_str("SITE_URL", "http://127.0.0.1:8000")
PASSWORD_RESET_TIMEOUT = env_int("INVITE_LINK_DAYS", 3, minimum=1, maximum=14) * 86400
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "AdvisorPortal <no-reply@advisorportal.localhost>")
# Text messages (one-time codes): a class with send(to, body) (advisorportal/mail/sms.py). Outside
# production they are written to the development outbox; in production, empty means codes go by
# email only.
SMS_BACKEND = env_str("SMS_BACKEND", "" if PRODUCTION else "advisorportal.mail.sms.OutboxBackend")
# Emails one firm may hand to the backend per minute (advisorportal/mail/rate.py); 0: no limit.
MAIL_RATE_PER_MINUTE = env_int("MAIL_RATE_PER_MINUTE", 600, minimum=0, maximum=1_000_000)

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "advisorportal.tenancy.pagination.KeysetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "advisorportal.tenancy.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "advisorportal.throttling.AnonRateThrottle",
        "advisorportal.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_RATE_ANON", "60/min"),
        "user": env_str("API_RATE_USER", "6000/min"),
    },
    "DEFAULT_VERSIONING_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AdvisorPortal API",
    "DESCRIPTION": "Everything a person can do in AdvisorPortal, a program can do through this API. "
    "Authenticate with a personal API token (`Authorization: Token <token>`) or a browser session.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation's error answers, in the one error shape (advisorportal/api_schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "advisorportal.api_schema.add_error_responses",
    ],
    # Several models have a "kind" or "status" with their own choices: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "FeeFrequencyEnum": "billing.models.Frequency",
        "FeeProrationEnum": "billing.models.Proration",
        "FeeMethodEnum": "billing.models.Method",
        "AccountStatusEnum": "portfolios.models.AccountStatus",
        "TransactionKindEnum": "portfolios.models.TransactionKind",
        "ContactKindEnum": "crm.models.ContactKind",
        "ContactStatusEnum": "crm.models.ContactStatus",
        "ActivityKindEnum": "crm.models.ActivityKind",
        "ImportKindEnum": "portfolios.custodian.models.ImportKind",
        "ImportStatusEnum": "portfolios.custodian.models.CustodianImportStatus",
        "ContactImportStatusEnum": "crm.contact_io.models.ContactImportStatus",
        "FundingRequestKindEnum": "funding.models.RequestKind",
        "FundingRequestCreateKindEnum": "funding.serializers.CREATABLE_KINDS",
        "FundingRequestStatusEnum": "funding.models.Status",
        "BankInstructionStatusEnum": "funding.models.InstructionStatus",
        "MethodEnum": "funding.models.Method",  # the name it had before billing added a "method" field
        "FeeScheduleMethodEnum": "billing.serializers.SCHEDULE_METHODS",
        "FeeAdjustmentKindEnum": "billing.models.AdjustmentKind",
        "RecurringAdjustmentKindEnum": "billing.models.RecurringKind",
    },
}

# Development and benchmark aid: report the number of SQL queries of each request in a header.
QUERY_COUNT_HEADER = env_bool("QUERY_COUNT_HEADER", not PRODUCTION)
if PRODUCTION and QUERY_COUNT_HEADER:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("Environment variable QUERY_COUNT_HEADER must be off in production.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "accounts.authentication.EmailBackend"]

# Login throttling (django-axes, counted in PostgreSQL, so it holds while Redis is down): after
# AXES_FAILURE_LIMIT failures for one email address from one client address, or
# LOGIN_ADDRESS_FAILURE_LIMIT failures from one address over any emails (accounts.authentication.
# LoginThrottle), sign-in is refused for the cool-off period, with the same answer whether or not
# the email belongs to an account. Failed and successful sign-ins are the login history.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=3, maximum=100)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int(
    "LOGIN_ADDRESS_FAILURE_LIMIT", 10 * AXES_FAILURE_LIMIT, minimum=AXES_FAILURE_LIMIT, maximum=10_000
)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=24 * 60) / 60
# Email and address together: one firm's user failing cannot lock out another's at the same address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "accounts.authentication.LoginThrottle"
AXES_USERNAME_CALLABLE = "accounts.authentication.login_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# Reverse proxies in front of the app that append to X-Forwarded-For; the client's address is
# taken from there (advisorportal/client_address.py, which also reports a count that does not
# match the traffic, in the log and on /health). axes reads REMOTE_ADDR, which that sets.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True

# Two-factor authentication (django-otp): TOTP apps and single-use backup codes.
OTP_TOTP_ISSUER = env_str("OTP_ISSUER", "AdvisorPortal")
# Exports of client data, account queries, bank-instruction and rights changes need a 2FA
# verification at most this many minutes old.
STEP_UP_MINUTES = env_int("STEP_UP_MINUTES", 10, minimum=1, maximum=60)
