"""The rendered ranking of a saved leaderboard, cached until something it shows changes.

A key is made of the leaderboard, the query string, and the version stamps of everything the page shows: the
leaderboard's own settings, the benchmarks of its metrics (and of any metric the query string picks), the names of
models, trainings and checkpoints, and the read model as a whole (`evaluations.versions`). A new result, a metric's
new direction or a leaderboard edit changes a stamp, so the next request renders afresh; nothing has to find and
delete old entries, which expire on their own.
"""

import hashlib
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from evaluations import versions
from evaluations.models import Metric

from .models import Leaderboard, LeaderboardMetric

# How long a request waits for another to render the entry it needs before rendering it itself.
RENDER_WAIT_SECONDS = 10


def leaderboard_key(pk: int) -> str:
    return f"versions:leaderboard:{pk}"


def rendered(request: HttpRequest, board: Leaderboard, render: Callable[[], object], kind: str = "page"):
    """What `render()` makes for this request (the page's body, or the API's rows as `kind="api"`), from the cache
    when nothing it shows has changed."""
    if settings.RANKING_CACHE_SECONDS <= 0:
        return render()
    key = entry_key(request, board, kind)
    body = cache.get(key)
    if body is not None:
        return body
    # One request renders a missing entry; the others asking for it meanwhile wait for that one instead of ranking
    # the same rows at the same time (after a new result, every reader of a busy leaderboard misses at once).
    lock = f"{key}:rendering"
    if not cache.add(lock, 1, timeout=RENDER_WAIT_SECONDS):
        deadline = time.monotonic() + RENDER_WAIT_SECONDS
        while time.monotonic() < deadline and cache.get(lock) is not None:
            time.sleep(0.01)
            if (body := cache.get(key)) is not None:
                return body
    try:
        body = render()
        cache.set(key, body, timeout=settings.RANKING_CACHE_SECONDS)
    finally:
        cache.delete(lock)
    return body


def entry_key(request: HttpRequest, board: Leaderboard, kind: str) -> str:
    benchmark_ids = {entry.metric.benchmark_id for entry in board.entries.all()}
    chosen = [value for value in request.GET.getlist("metric") if value.isdigit() and len(value) < 19]
    if chosen:
        benchmark_ids |= set(Metric.objects.filter(pk__in=chosen).values_list("benchmark_id", flat=True))
    keys = [leaderboard_key(board.pk), versions.NAMES, versions.EVERYTHING]
    keys += [versions.benchmark_key(pk) for pk in sorted(benchmark_ids)]
    stamps = versions.stamps(keys)
    fragment = "htmx" if kind == "page" and request.htmx else kind
    # The host too: the API's rows link to their next page with absolute URLs.
    identity = "\n".join(
        [fragment, request.get_host(), request.GET.urlencode(), *(f"{key}={stamps[key]}" for key in keys)]
    )
    return f"leaderboard:{board.pk}:{hashlib.sha256(identity.encode()).hexdigest()}"


def _renew(pk: int) -> None:
    versions.renew([leaderboard_key(pk)])


@receiver(post_save, sender=Leaderboard)
@receiver(post_delete, sender=Leaderboard)
def _leaderboard_changed(sender, instance: Leaderboard, **kwargs) -> None:
    _renew(instance.pk)


@receiver(post_save, sender=LeaderboardMetric)
@receiver(post_delete, sender=LeaderboardMetric)
def _entry_changed(sender, instance: LeaderboardMetric, **kwargs) -> None:
    _renew(instance.leaderboard_id)


@receiver(m2m_changed, sender=Leaderboard.filter_models.through)
@receiver(m2m_changed, sender=Leaderboard.filter_trainings.through)
@receiver(m2m_changed, sender=Leaderboard.filter_tags.through)
def _filters_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    if not action.startswith("post_"):
        return
    if not reverse:
        _renew(instance.pk)
    else:  # a model, training or tag whose leaderboards were changed from its side
        for pk in pk_set or Leaderboard.objects.values_list("pk", flat=True):
            _renew(pk)
