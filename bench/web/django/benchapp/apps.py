import os

from django.apps import AppConfig
from django.db.backends.signals import connection_created


# BENCH_SYNC (run.sh's SYNC): "full" or "normal", as sighost's
# database.synchronous in the same run.
SYNC = os.environ.get("BENCH_SYNC", "full").upper()


def _wal(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=%s" % SYNC)


class BenchappConfig(AppConfig):
    name = "benchapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        connection_created.connect(_wal, dispatch_uid="benchapp.wal")
