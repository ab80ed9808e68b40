"""Writing checked result files through `record_results`: one transaction per file, lookups cached per run.

The final checkpoint (a file that names no step) is the training's checkpoint labelled "final"; the first time, it
is the training's highest known step, which then gets that label, or a new checkpoint at step 0 labelled "final"
when the training has none. Pass the step when you know it: a later import of real step-0 results for the same
training would land on that checkpoint.

Files of one run are never merged silently: when a file would land on a checkpoint and benchmark that an earlier file
of the same run wrote, with other values and other model arguments (`config.model_args`), it is two different models
taken for one, and the later file is refused as a conflict, naming the earlier one. The same model arguments with other
values are a rerun, recorded as a newer evaluation. A step given for every file (`Overrides.step`) says the files are
meant to share a checkpoint, so nothing is a conflict then.

A task's group from `group_subtasks` fills `Benchmark.group` while it is empty; an admin's value is kept.
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
    conflict: bool = False

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

    @property
    def conflicts(self) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if outcome.conflict]


class Conflict(Exception):
    """A file would merge into results another file of the same run wrote for a different model."""


@dataclass(frozen=True)
class _Landed:
    fingerprint: str
    model_args: tuple[tuple[str, str], ...]
    origin: str


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
        # What each file of this run wrote, by (checkpoint, benchmark): the check that nothing merges silently.
        self.landed: dict[tuple[int, int], _Landed] = {}

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
        conflict = False
        try:
            with transaction.atomic():
                outcome, landed = self._write(parsed, origin)
            self.landed.update(landed)
            return outcome
        except Conflict as error:
            reason, conflict = str(error), True
        except ValidationError as error:
            reason = " ".join(error.messages)
        except (IntegrityError, DataError) as error:
            reason = f"the database refused it: {error}".strip()
        # The rollback removed what this file created; the cache must not hand those rows to the next file.
        self.catalog.forget()
        return FileOutcome(origin, error=reason, conflict=conflict)

    def _write(self, parsed: ParsedFile, origin: str) -> tuple[FileOutcome, dict[tuple[int, int], _Landed]]:
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
        landed = {}
        for task in parsed.tasks:
            benchmark, metrics = self.catalog.resolve(task)
            _fill_group(benchmark, task.group)
            scores = {metrics[metric.key]: ScoreValue(metric.value, metric.stderr) for metric in task.metrics}
            here = _Landed(fingerprint(scores), parsed.model_args, origin)
            self._check_conflict(checkpoint, benchmark, here)
            landed[checkpoint.pk, benchmark.pk] = here
            if (benchmark.pk, here.fingerprint) in recorded:
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
        return outcome, landed

    def _check_conflict(self, checkpoint: Checkpoint, benchmark: Benchmark, here: _Landed) -> None:
        earlier = self.landed.get((checkpoint.pk, benchmark.pk))
        if self.overrides.step is not None or earlier is None:
            return
        if earlier.fingerprint != here.fingerprint and earlier.model_args != here.model_args:
            raise Conflict(
                f"conflicts with {earlier.origin}: both land on {checkpoint.training.name} step {checkpoint.step}, "
                f"{benchmark.slug}, with different values and different model arguments; nothing of it was written. "
                "Give each its training or step."
            )

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


def _fill_group(benchmark: Benchmark, group: str) -> None:
    """Record the group the file places the task in, unless the benchmark already has one."""
    if group and not benchmark.group:
        Benchmark.objects.filter(pk=benchmark.pk, group="").update(group=group)
        benchmark.group = group


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
