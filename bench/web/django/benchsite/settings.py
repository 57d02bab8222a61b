"""Settings of the Django side of the web benchmark (bench/web/run.sh).

The database is BENCH_DB (a file in run.sh's temp dir), in WAL mode as
sighost's, with PRAGMA synchronous BENCH_SYNC (benchapp/apps.py sets both on
every connection, from connection_created).
"""
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["benchapp"]
MIDDLEWARE = []
ROOT_URLCONF = "benchsite.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB", os.path.join(BASE_DIR, "bench.sqlite3")),
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LOGGING = {"version": 1, "disable_existing_loggers": False}
