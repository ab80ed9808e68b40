"""Version stamps of the evaluation data, kept in the cache, so that pages rendered from it can be cached and dropped
exactly when what they show changes (rankings.cache builds its keys from them).

- each benchmark's stamp changes when the current scores of any of its metrics change, or a metric of it changes
  (a result recorded, a direction switched);
- the names stamp changes when a model, training, tag, benchmark or metric is saved or deleted, or a checkpoint is
  edited or deleted: what tables and pickers show besides the scores;
- the everything stamp changes when the read model is rebuilt.

Stamps change when the data is written and again when its transaction commits: a page another request rendered
from the old data while the write was in flight is stored under a stamp that nobody asks for any more. A stamp
missing from the cache (evicted, cleared) gets a new random value, so an entry made under an earlier value is never
mistaken for a current one.
"""

import uuid
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Benchmark, Checkpoint, Metric, ModelFamily, Tag, Training

NAMES = "versions:names"
EVERYTHING = "versions:everything"


def benchmark_key(pk: int) -> str:
    return f"versions:benchmark:{pk}"


def stamps(keys: Iterable[str]) -> dict[str, str]:
    """The current stamp of each key, one cache round trip when they all exist."""
    keys = list(keys)
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, uuid.uuid4().hex, timeout=None)
            found[key] = cache.get(key)
    return found


def renew(keys: list[str]) -> None:
    """New stamps now, for this connection's own next reads, and again once the transaction commits."""

    def new_stamps():
        cache.set_many({key: uuid.uuid4().hex for key in keys}, timeout=None)

    new_stamps()
    transaction.on_commit(new_stamps)


def benchmarks_changed(pks: Iterable[int]) -> None:
    renew([benchmark_key(pk) for pk in set(pks)])


def names_changed() -> None:
    renew([NAMES])


def everything_changed() -> None:
    renew([EVERYTHING])


@receiver(post_save, sender=ModelFamily)
@receiver(post_save, sender=Training)
@receiver(post_save, sender=Tag)
@receiver(post_save, sender=Benchmark)
@receiver(post_delete, sender=ModelFamily)
@receiver(post_delete, sender=Training)
@receiver(post_delete, sender=Tag)
@receiver(post_delete, sender=Benchmark)
@receiver(post_delete, sender=Checkpoint)
def _names_saved(sender, **kwargs) -> None:
    names_changed()


@receiver(post_save, sender=Checkpoint)
def _checkpoint_saved(sender, created: bool, **kwargs) -> None:
    # A new checkpoint shows nowhere until it has results, which renew its benchmarks' stamps.
    if not created:
        names_changed()


@receiver(post_save, sender=Metric)
@receiver(post_delete, sender=Metric)
def _metric_saved(sender, instance: Metric, **kwargs) -> None:
    names_changed()
    benchmarks_changed([instance.benchmark_id])
