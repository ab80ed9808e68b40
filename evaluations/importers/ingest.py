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

# A module, not its names: `catalog` imports `known` from this package, so it may be half-loaded when this runs.
from .. import catalog as catalogs
from ..models import Benchmark, Checkpoint, Evaluation, ModelFamily, Training
from ..results import Result, ScoreValue, fingerprint, record_results, resolve_checkpoint
from .lm_eval import (
    HARNESS,
    NO_OVERRIDES,
    InvalidResultFile,
    Overrides,
    ParsedFile,
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


class Importer:
    """One import run: files share the cached benchmarks and metrics; each file is written whole or not at all.

    `catalog` says whether the run may create the benchmarks and metrics it has not seen (by default it may).
    """

    def __init__(self, overrides: Overrides = NO_OVERRIDES, *, catalog: "catalogs.Catalog | None" = None) -> None:
        self.overrides = overrides
        self.catalog = catalog or catalogs.Catalog()
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
        except LookupError as error:
            reason = str(error)
        except (IntegrityError, DataError) as error:
            reason = f"the database refused it: {error}".strip()
        # The rollback removed what this file created; the cache must not hand those rows to the next file.
        self.catalog.forget()
        return FileOutcome(origin, error=reason, conflict=conflict)

    def _write(self, parsed: ParsedFile, origin: str) -> tuple[FileOutcome, dict[tuple[int, int], _Landed]]:
        checkpoint = self._checkpoint(parsed)
        outcome = FileOutcome(origin, checkpoint=checkpoint)
        pending = []
        landed = {}
        for task in parsed.tasks:
            benchmark = self.catalog.benchmark((task.task, task.num_fewshot, task.version))
            specs = [catalogs.MetricSpec(metric.key, metric.higher_is_better) for metric in task.metrics]
            metrics = self.catalog.metrics(benchmark, specs)
            _fill_group(benchmark, task.group)
            scores = {metrics[metric.key]: ScoreValue(metric.value, metric.stderr) for metric in task.metrics}
            here = _Landed(fingerprint(scores), parsed.model_args, origin)
            self._check_conflict(checkpoint, benchmark, here)
            landed[checkpoint.pk, benchmark.pk] = here
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
