"""How metrics are named where several are shown together.

A task can be a benchmark at more than one few-shot count or version (arc_easy 0-shot and 5-shot are two benchmarks).
Shown side by side, both would read "ARC (Easy) · acc": so wherever metrics are listed together, the setting that
tells them apart is added to the name, and only then, so that the usual case stays short.
"""

from collections import defaultdict
from collections.abc import Iterable

from .models import Metric


def _setting(metric: Metric, *, shots: bool, version: bool) -> str:
    parts = []
    if shots:
        parts.append(f"{metric.benchmark.num_fewshot}-shot")
    if version:
        parts.append(f"v{metric.benchmark.version}" if metric.benchmark.version else "unversioned")
    return " ".join(parts)


def _settings_by_task(metrics: Iterable[Metric]) -> dict[str, set[tuple[int, str]]]:
    settings = defaultdict(set)
    for metric in metrics:
        settings[metric.benchmark.slug].add((metric.benchmark.num_fewshot, metric.benchmark.version))
    return settings


def _distinguishing_settings(metrics: list[Metric]) -> list[str]:
    """For each metric, the setting that tells it apart from the others of its task ("5-shot", "v2"), or ""."""
    settings = _settings_by_task(metrics)
    names = []
    for metric in metrics:
        task = settings[metric.benchmark.slug]
        shots, version = len({shots for shots, _ in task}) > 1, len({version for _, version in task}) > 1
        names.append(_setting(metric, shots=shots, version=version))
    return names


def titled(metrics: Iterable[Metric]) -> list[Metric]:
    """The metrics, each with `title` set to its name among the others: "ARC (Easy) 5-shot · acc" where the same
    task is there at another few-shot count, with "v2" where at another version, else "ARC (Easy) · acc"."""
    metrics = list(metrics)
    for metric, setting in zip(metrics, _distinguishing_settings(metrics), strict=True):
        metric.title = f"{metric.benchmark.name} {setting} · {metric.label}" if setting else metric.title
    return metrics


def column_names(metrics: Iterable[Metric]) -> list[str]:
    """Plain names for the metrics as columns of an export, from the identifiers lm-evaluation-harness uses:
    "arc_easy acc", or "arc_easy 5-shot acc" where the same task is there at another setting. No direction
    arrows or display names: code reads these (the direction is in the export's settings)."""
    metrics = list(metrics)
    return [
        " ".join(part for part in (metric.benchmark.slug, setting, metric.key) if part)
        for metric, setting in zip(metrics, _distinguishing_settings(metrics), strict=True)
    ]


def mixed_settings(metrics: Iterable[Metric]) -> list[str]:
    """A sentence for each task that these metrics take at more than one few-shot count or version."""
    notes = []
    for slug, task in sorted(_settings_by_task(metrics).items()):
        if len(task) < 2:
            continue
        shots = sorted({shots for shots, _ in task})
        versions = sorted({version or "none" for _, version in task})
        differences = []
        if len(shots) > 1:
            differences.append("few-shot counts " + ", ".join(str(n) for n in shots))
        if len(versions) > 1:
            differences.append("versions " + ", ".join(versions))
        notes.append(f"{slug} is included at {' and at '.join(differences)}: these are different settings of one task.")
    return notes
