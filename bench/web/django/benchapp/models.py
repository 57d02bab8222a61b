"""The same model and receiver as bench/web/project (bench.yaml, bench.c)."""
import itertools

from django.db import models
from django.db.models.signals import post_save
from django.dispatch import receiver


class Item(models.Model):
    name = models.CharField(max_length=100)
    qty = models.IntegerField()
    price = models.FloatField()

    def as_json(self):
        return {"id": self.pk, "name": self.name, "qty": self.qty, "price": self.price}


items_saved = itertools.count(1)   # bench.c: an atomic counter


@receiver(post_save, sender=Item)
def on_item_saved(sender, instance, created, **kwargs):
    next(items_saved)
