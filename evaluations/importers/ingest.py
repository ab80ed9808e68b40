"""Writing checked result files through `record_results`: one transaction per file, lookups cached per run.

The final checkpoint (a file without a revision) is the training's checkpoint labelled "final"; the first time, it
is the training's highest known step, which then gets that label, or a new checkpoint at step 0 labelled "final"
when the training has none. Pass the step when you know it: a later import of real step-0 results for the same
training would land on that checkpoint.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction

from ..models import Benchmark, Checkpoint, Evaluation, Metric, ModelFamily, Training
from ..results import Result, ScoreValue, fingerprint, record_results, resolve_checkpoint
from . import known
from .lm_eval import (
    HARNESS,
    NO_OVERRIDES,
    InvalidResultFile,
    Overrides,
    ParsedFile,
    ParsedMetric,
    ParsedTask,
    parse_document,
)

FINAL_LABEL = "final"


@dataclass
class FileOutcome:
    """What importing one file did; `error` says why nothing of it was written."""

    origin: str
    created: int = 0
    unchanged: int = 0
    error: str = ""
    checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class ImportSummary:
    outcomes: list[FileOutcome] = field(default_factory=list)

    @property
    def files(self) -> int:
        return len(self.outcomes)

    @property
    def created(self) -> int:
        return sum(outcome.created for outcome in self.outcomes)

    @property
    def unchanged(self) -> int:
        return sum(outcome.unchanged for outcome in self.outcomes)

    @property
    def failed(self) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]


class Catalog:
    """Benchmarks and their metrics by identity, fetched or created once per import run instead of once per task."""

    def __init__(self) -> None:
        self._benchmarks: dict[tuple[str, int, str], tuple[Benchmark, dict[str, Metric]]] = {}

    def resolve(self, task: ParsedTask) -> tuple[Benchmark, dict[str, Metric]]:
        """The task's benchmark and its metrics by key, creating whatever is new (see `known` for the defaults)."""
        identity = (task.task, task.num_fewshot, task.version)
        if identity not in self._benchmarks:
            benchmark, _ = Benchmark.objects.get_or_create(
                slug=task.task,
                num_fewshot=task.num_fewshot,
                version=task.version,
                defaults={"name": task.task, "category": known.category_of(task.task)},
            )
            self._benchmarks[identity] = benchmark, {metric.key: metric for metric in benchmark.metrics.all()}
        benchmark, metrics = self._benchmarks[identity]
        if new := [metric for metric in task.metrics if metric.key not in metrics]:
            metrics.update(
                self._create_metrics(
                    benchmark, task.task, new, has_primary=any(metric.is_primary for metric in metrics.values())
                )
            )
        return benchmark, metrics

    def forget(self) -> None:
        """Drop everything cached: after a rollback, rows created during the failed file are gone."""
        self._benchmarks.clear()

    @staticmethod
    def _create_metrics(
        benchmark: Benchmark, task: str, parsed: list[ParsedMetric], *, has_primary: bool
    ) -> dict[str, Metric]:
        directions = {metric.key: known.direction_of(metric.name, metric.higher_is_better) for metric in parsed}
        primary = None
        if not has_primary:
            # min() keeps the first of equals: the file's order breaks ties.
            primary = min(parsed, key=lambda metric: known.primary_order(metric.name, directions[metric.key])).key
        created = {}
        for metric in parsed:
            created[metric.key], _ = Metric.objects.get_or_create(
                benchmark=benchmark,
                key=metric.key,
                defaults={
                    "direction": directions[metric.key],
                    "is_primary": metric.key == primary,
                    "baseline": known.baseline_of(task, metric.name),
                    "lower_bound": known.bounds_of(metric.name)[0],
                    "upper_bound": known.bounds_of(metric.name)[1],
                },
            )
        return created


class Importer:
    """One import run: files share the cached benchmarks and metrics; each file is written whole or not at all."""

    def __init__(self, overrides: Overrides = NO_OVERRIDES) -> None:
        self.overrides = overrides
        self.catalog = Catalog()

    def import_file(self, path: Path) -> FileOutcome:
        try:
            content = path.read_bytes()
        except OSError as error:
            return FileOutcome(str(path), error=f"cannot read it: {error.strerror or error}.")
        return self.import_bytes(content, origin=str(path))

    def import_bytes(self, content: bytes | str, *, origin: str) -> FileOutcome:
        """Import the text of a result file, e.g. an upload; `origin` names it in messages and in the config."""
        try:
            data = json.loads(content)
        except (ValueError, RecursionError) as error:
            return FileOutcome(origin, error=f"not valid JSON: {error}.")
        return self.import_document(data, origin=origin)

    def import_document(self, data: object, *, origin: str) -> FileOutcome:
        """Import an already parsed result file."""
        try:
            parsed = parse_document(data, origin=origin, overrides=self.overrides)
        except InvalidResultFile as error:
            return FileOutcome(origin, error=str(error))
        try:
            with transaction.atomic():
                return self._write(parsed, origin)
        except ValidationError as error:
            reason = " ".join(error.messages)
        except (IntegrityError, DataError) as error:
            reason = f"the database refused it: {error}".strip()
        # The rollback removed what this file created; the cache must not hand those rows to the next file.
        self.catalog.forget()
        return FileOutcome(origin, error=reason)

    def _write(self, parsed: ParsedFile, origin: str) -> FileOutcome:
        checkpoint = self._checkpoint(parsed)
        outcome = FileOutcome(origin, checkpoint=checkpoint)
        # The check record_results makes, on (benchmark, fingerprint) pairs only: unchanged results are never loaded
        # as whole evaluations with their configs, so re-importing a file costs about one query.
        recorded = set(
            Evaluation.objects.filter(checkpoint=checkpoint, status=Evaluation.Status.SUCCEEDED).values_list(
                "benchmark_id", "fingerprint"
            )
        )
        pending = []
        for task in parsed.tasks:
            benchmark, metrics = self.catalog.resolve(task)
            scores = {metrics[metric.key]: ScoreValue(metric.value, metric.stderr) for metric in task.metrics}
            if (benchmark.pk, fingerprint(scores)) in recorded:
                outcome.unchanged += 1
                continue
            pending.append(
                Result(
                    checkpoint,
                    benchmark,
                    scores,
                    source=Evaluation.Source.IMPORT,
                    harness=HARNESS,
                    harness_version=parsed.harness_version,
                    config=task.config,
                    started_at=parsed.started_at,
                    finished_at=parsed.finished_at,
                )
            )
        for result in record_results(pending) if pending else []:
            if result.created:
                outcome.created += 1
            else:
                outcome.unchanged += 1
        return outcome

    @staticmethod
    def _checkpoint(parsed: ParsedFile) -> Checkpoint:
        if parsed.step is not None:
            return resolve_checkpoint(parsed.model, parsed.training, parsed.step)
        model, _ = ModelFamily.objects.get_or_create(name=parsed.model)
        training, _ = Training.objects.get_or_create(model=model, name=parsed.training)
        checkpoints = training.checkpoints.order_by("-step")
        final = checkpoints.filter(label=FINAL_LABEL).first() or checkpoints.first()
        if final is None:
            return Checkpoint.objects.create(training=training, step=0, label=FINAL_LABEL)
        if not final.label:
            final.label = FINAL_LABEL
            final.save(update_fields=["label"])
        return final


def import_document(data: object, *, origin: str, overrides: Overrides = NO_OVERRIDES) -> FileOutcome:
    """Import one parsed lm-evaluation-harness result file (e.g. an uploaded one); never raises for bad data."""
    return Importer(overrides).import_document(data, origin=origin)


def import_bytes(content: bytes | str, *, origin: str, overrides: Overrides = NO_OVERRIDES) -> FileOutcome:
    return Importer(overrides).import_bytes(content, origin=origin)


def find_result_files(paths: Iterable[Path | str]) -> list[Path]:
    """The files named and the *.json files under the folders named, each once; missing paths are kept to fail."""
    found: dict[Path, None] = {}
    for path in map(Path, paths):
        for file in sorted(path.rglob("*.json")) if path.is_dir() else [path]:
            found.setdefault(file, None)
    return list(found)


def import_paths(
    paths: Iterable[Path | str],
    *,
    overrides: Overrides = NO_OVERRIDES,
    progress: Callable[[list[Path]], Iterable[Path]] | None = None,
) -> ImportSummary:
    """Import every result file found under `paths`; `progress` may wrap the file list, e.g. in a progress bar."""
    files = find_result_files(paths)
    importer = Importer(overrides)
    summary = ImportSummary()
    for path in progress(files) if progress else files:
        summary.outcomes.append(importer.import_file(path))
    return summary
