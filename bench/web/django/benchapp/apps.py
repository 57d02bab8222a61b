from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _wal(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")


class BenchappConfig(AppConfig):
    name = "benchapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        connection_created.connect(_wal, dispatch_uid="benchapp.wal")
