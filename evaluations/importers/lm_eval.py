"""Reading lm-evaluation-harness result files (0.3 and 0.4) into plain data, checked, before anything is written.

Layouts
    0.3: `results` maps a task to `{"acc": 0.5, "acc_stderr": 0.01, ...}`; `versions`; `config.num_fewshot`.
    0.4: metric keys carry a filter, `{"acc,none": 0.5, "acc_stderr,none": 0.01}`, the stderr may be "N/A";
    `n-shot`, `higher_is_better`, `configs`, `n-samples`, `model_name`, `date`, `lm_eval_version` sit beside
    `results`. A file is 0.4 when it has one of the 0.4-only top-level keys or a metric key with a filter; a file
    mixing both kinds of metric key is an unknown layout and refused.

Metrics
    The stored key is the metric with its filter, `exact_match,strict-match`; the filter "none" (no filter at all)
    is dropped, so `acc,none` is stored as `acc` like in 0.3 files. `<metric>_stderr` is the standard error of
    `<metric>`; "N/A" means none. The keys `alias` (`"  - abstract_algebra"`: its leading spaces and dashes only
    draw the tree), `name`, `sample_len`, `sample_count` and `samples` describe the row and are skipped; any other
    key must hold a finite number (and a stderr must not be negative), otherwise the whole file is refused. Every
    metric name is kept as the file spells it (bleu, rouge1, rougeL, word_perplexity, byte_perplexity,
    bits_per_byte, llm_judge…); `known` gives new ones their direction and bounds, the file's `higher_is_better`
    first.

Groups
    A group row with aggregate metrics (`mmlu`, `mmlu_humanities` aliased " - humanities", or the rows of 0.4.0 to
    0.4.3's top-level `groups`) is imported as a benchmark of its own, named after the group. A group without
    aggregates is written by 0.4.4 and later as the placeholder `{" ": " ", "alias": "leaderboard_bbh"}` (older
    versions write only the alias): it has no metric, so it is skipped, and its members are imported as usual. The
    structure comes from `group_subtasks` (`{"mmlu_stem": ["mmlu_anatomy", …], "mmlu": ["mmlu_stem", …]}`): each
    task's group is the first group listing it, kept on the benchmark (`Benchmark.group`, see `ingest`).

Benchmark identity
    slug = task name; few-shot count = `n-shot[task]` (0.4), else `config.num_fewshot`, else 0; version =
    `versions[task]` as text (0 → "0", 1.0 → "1.0", "2" → "2"; absent, null or "N/A" → ""). What a file says about
    itself wins over its file name: `1b-bf16-5shot_step1000.json` says `num_fewshot: 0`, so it is 0-shot.

Model, training and checkpoint (each can be overridden; an overridden training also names the model)
    source = `pretrained` in `config.model_args` (a "k=v,k=v" string or a dict), else its `load` (GPT-NeoX, whose
    whole training configuration can be the model_args), else the top-level `model_name`, else
    `model_name_sanitized` with "__" read as "/", else the file: its name without extension, or its folder's name
    (again "__" as "/") for 0.4's `<model>/results_<time>.json`. An empty `model_name` counts as absent.
    training = the last path component of the source: `EleutherAI/pythia-v1.1-1.4b-deduped` →
    `pythia-v1.1-1.4b-deduped` — unless that component is a checkpoint folder a training framework saved
    (`checkpoint-1500`, `global_step1500`, `step_1500`, `iter_0001500`, `ckpt-3`, `epoch_20`): then the folder
    above it is the training and the folder names the step, `/out/run/checkpoint-1500` → training `run`, step 1500.
    A checkpoint folder with nothing above it (`./checkpoint-50`) names no training: pass one.
    model = the training with trailing variant suffixes removed (`-deduped`, `-bf16`, `-fp16`, `-fp32`):
    `pythia-v1.1-1.4b`. So the deduplicated and plain runs of a size are two trainings of one model.
    PEFT adapters (`pretrained=meta-llama/Meta-Llama-3-8B-Instruct,peft=/runs/lora-x/epoch_20`): the adapter is a
    training of its own of the base model. model = the base model's (`Meta-Llama-3-8B-Instruct`), training and step
    from the adapter path by the rule above (`lora-x`, 20); an adapter path naming no step (`/models/lora-x`) is the
    final checkpoint of training `lora-x`. So the epochs of one adapter are checkpoints of one training, and the base
    model evaluated without adapter is another training (`Meta-Llama-3-8B-Instruct`) of the same model.
    step = wherever the file states it: the checkpoint folder above; a GPT-NeoX `iteration` in `model_args`;
    `revision` in `model_args` (else `config.model_revision`): `step1000`, `step-1000`, `step_1000`,
    `global_step1000`, `global_step_1000`. Places that disagree refuse the file, naming both. Naming no step, with
    no revision or `main`/`master`, means the final checkpoint (step None here; see `ingest`). Any other revision (a
    commit hash, a branch) names no step we can know: the file is refused unless a step is given or a checkpoint
    folder or `iteration` names it.
    The sorted `model_args` are kept with the parsed file, for `ingest` to tell a rerun from another model.

Timing and provenance
    `date` (a Unix timestamp, when the run started) is `started_at`; `finished_at` adds
    `total_evaluation_time_seconds` when present, else equals `date`; without `date`, `started_at` stays empty and
    `finished_at` is the time of the import. Harness version = `lm_eval_version` or "". Each evaluation's config is
    the file's `config` plus, when present, the task's `n-samples`, the `TASK_CONFIG_KEYS` of its `configs` entry,
    the harness `git_hash`, and the name of the file it came from (`imported_from`).
"""

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePath

HARNESS = "lm-evaluation-harness"
ROW_KEYS = frozenset({"alias", "name", "sample_len", "sample_count", "samples"})
V04_KEYS = frozenset({"n-shot", "higher_is_better", "n-samples", "configs", "group_subtasks"})
# lm-eval 0.4.4 and later write `{" ": " ", "alias": "leaderboard_bbh"}` for a group that aggregates nothing.
PLACEHOLDER = " "
NO_FILTER = "none"
NO_STDERR = "N/A"
STDERR_SUFFIX = "_stderr"
VARIANT_SUFFIXES = ("-deduped", "-bf16", "-fp16", "-fp32")
FINAL_REVISIONS = frozenset({"", "main", "master"})
STEP_REVISION = re.compile(r"(?:global_)?step[-_]?(\d+)")
# The last folder of a checkpoint a training framework saved: Hugging Face Trainer `checkpoint-1500`, GPT-NeoX and
# DeepSpeed `global_step1500`, `step_1500`, `iter_0001500` (Megatron), `epoch_20` (one adapter saved per epoch).
STEP_FOLDER = re.compile(r"(?:global_step|step|checkpoint|ckpt|iter|iteration|epoch)[-_]?(\d+)", re.IGNORECASE)
# lm-eval names result folders after the model with "/" written as "__" (`model_name_sanitized`).
SANITIZED_SEPARATOR = "__"
NO_VERSION = frozenset({"", "N/A"})
# The parts of a 0.4 task config worth keeping with each evaluation; prompts and templates can run to kilobytes.
TASK_CONFIG_KEYS = (
    "task",
    "tag",
    "group",
    "dataset_path",
    "dataset_name",
    "test_split",
    "fewshot_split",
    "output_type",
    "num_fewshot",
    "metric_list",
    "repeats",
    "generation_kwargs",
    "metadata",
)
# Column sizes in evaluations.models: what does not fit fails on PostgreSQL only, or in the SQLite driver.
MAX_NAME = 200
MAX_VERSION = 50
MAX_FEWSHOT = 32767
MAX_STEP = 2**63 - 1
MAX_FLOAT_INT = int(sys.float_info.max)


class InvalidResultFile(Exception):
    """A file that cannot be imported; the message says why, for a person to fix it."""


@dataclass(frozen=True)
class Overrides:
    """What the person importing knows better than the file."""

    model: str | None = None
    training: str | None = None
    step: int | None = None


NO_OVERRIDES = Overrides()


@dataclass(frozen=True)
class ParsedMetric:
    key: str
    name: str
    value: float
    stderr: float | None
    higher_is_better: bool | None


@dataclass(frozen=True)
class ParsedTask:
    task: str
    num_fewshot: int
    version: str
    metrics: tuple[ParsedMetric, ...]
    config: dict
    group: str = ""


@dataclass(frozen=True)
class ParsedFile:
    model: str
    training: str
    step: int | None
    tasks: tuple[ParsedTask, ...]
    harness_version: str
    started_at: datetime | None
    finished_at: datetime | None
    # What tells two runs of a checkpoint apart: `config.model_args`, as sorted (key, value) pairs.
    model_args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Sections:
    """The parts of a file that describe its tasks, looked up by task name."""

    config: Mapping
    versions: Mapping
    n_shot: Mapping
    higher_is_better: Mapping
    configs: Mapping
    n_samples: Mapping
    parents: Mapping[str, str]
    provenance: dict
    origin: str
    is_v04: bool

    def evaluation_config(self, task: str) -> dict:
        result = dict(self.config)
        task_config = self.configs.get(task)
        if isinstance(task_config, Mapping):
            result["task_config"] = {key: task_config[key] for key in TASK_CONFIG_KEYS if key in task_config}
        if task in self.n_samples:
            result["n_samples"] = self.n_samples[task]
        return result | self.provenance | {"imported_from": self.origin}


def parse_document(data: object, *, origin: str, overrides: Overrides = NO_OVERRIDES) -> ParsedFile:
    """Check a parsed result file and return what it holds; raise `InvalidResultFile` at the first problem."""
    if not isinstance(data, Mapping):
        raise InvalidResultFile(f"unknown layout: expected a JSON object, got {_kind(data)}.")
    if "results" not in data:
        raise InvalidResultFile("no `results`: this is not an lm-evaluation-harness result file.")
    rows = dict(_mapping(data, "results"))
    for group, row in _mapping(data, "groups").items():
        rows.setdefault(group, row)
    if not rows:
        raise InvalidResultFile("no results: `results` is empty.")
    sections = _Sections(
        config=_mapping(data, "config"),
        versions=_mapping(data, "versions"),
        n_shot=_mapping(data, "n-shot"),
        higher_is_better=_mapping(data, "higher_is_better"),
        configs=_mapping(data, "configs"),
        n_samples=_mapping(data, "n-samples"),
        parents=_parents(data),
        provenance={"git_hash": data["git_hash"]} if isinstance(data.get("git_hash"), str) else {},
        origin=origin,
        is_v04=any(key in data for key in V04_KEYS)
        or any("," in key for row in rows.values() if isinstance(row, Mapping) for key in row),
    )
    tasks = tuple(task for name, row in rows.items() if (task := _parse_task(name, row, sections)) is not None)
    if not tasks:
        raise InvalidResultFile("no results: no task has a metric.")
    model_args = _model_args(sections.config.get("model_args"))
    model, training, step = _identity(data, sections.config, model_args, origin=origin, overrides=overrides)
    started_at, finished_at = _times(data)
    harness_version = "" if data.get("lm_eval_version") is None else str(data["lm_eval_version"]).strip()
    _check_length("lm_eval_version", harness_version, MAX_VERSION)
    return ParsedFile(
        model, training, step, tasks, harness_version, started_at, finished_at, tuple(sorted(model_args.items()))
    )


def _identity(
    data: Mapping, config: Mapping, model_args: Mapping[str, str], *, origin: str, overrides: Overrides
) -> tuple[str, str, int | None]:
    inferred_model, inferred_training, path_step, source = _run(data, model_args, origin)
    training = overrides.training or inferred_training
    if not training:
        raise InvalidResultFile(
            f"cannot tell the training from {source}: its last folder only names the step; pass a training name."
        )
    if overrides.model:
        model = overrides.model
    elif overrides.training or not inferred_model:
        model = model_name(training)
    else:
        model = inferred_model
    step = overrides.step
    if step is None:
        step = _step(model_args, config, path_step)
    _check_length("training name", training, MAX_NAME)
    _check_length("model name", model, MAX_NAME)
    if step is not None and not 0 <= step <= MAX_STEP:
        raise InvalidResultFile(f"the step must be a whole number from 0 to {MAX_STEP}, got {step}.")
    return model, training, step


def training_name(source: str) -> str:
    """The last path component: `EleutherAI/pythia-1b-deduped` → `pythia-1b-deduped`."""
    name = source.strip().rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise InvalidResultFile(f"cannot tell the training from {source!r}: pass a training name.")
    return name


def model_name(training: str) -> str:
    """The training's name without its variant suffixes: `pythia-1b-deduped` → `pythia-1b`."""
    name = training
    while suffix := next((s for s in VARIANT_SUFFIXES if name.lower().endswith(s) and name != s), None):
        name = name[: -len(suffix)]
    return name


def step_from_revision(revision: object) -> int | None:
    """The step a revision names, or None for the final checkpoint."""
    if revision is None:
        return None
    text = str(revision).strip()
    if text in FINAL_REVISIONS:
        return None
    if match := STEP_REVISION.fullmatch(text):
        return int(match.group(1))
    raise InvalidResultFile(f"the revision {text!r} names no training step: pass the step explicitly.")


def _run(data: Mapping, model_args: Mapping[str, str], origin: str) -> tuple[str, str, int | None, str]:
    """Model, training, the step the path names (None if none) and that path for messages, before overrides; ""
    where unknown."""
    adapter = model_args.get("peft")
    if adapter and model_args.get("pretrained"):
        # A PEFT adapter is a training of its own on top of the base model: one adapter, one training.
        training, step = split_step_folder(adapter)
        return model_name(training_name(model_args["pretrained"])), training, step, f"`peft` {adapter!r}"
    source = _source(data, model_args, origin)
    training, step = split_step_folder(source)
    return model_name(training) if training else "", training, step, repr(source)


def split_step_folder(source: str) -> tuple[str, int | None]:
    """The training and step of a checkpoint path: `/out/run/checkpoint-1500` → (`run`, 1500), `./checkpoint-50` →
    ("", 50) as only the step is known; a path that names no step → (its last component, None)."""
    parts = [part for part in source.strip().replace("\\", "/").split("/") if part not in ("", ".")]
    if parts and (match := STEP_FOLDER.fullmatch(parts[-1])):
        training = parts[-2] if len(parts) >= 2 and parts[-2] != ".." else ""
        return training, int(match.group(1))
    return training_name(source), None


def _step(model_args: Mapping[str, str], config: Mapping, path_step: int | None) -> int | None:
    """The step the file states: in the model's path, as a GPT-NeoX `iteration`, or as a revision; they must agree."""
    stated = {}
    if path_step is not None:
        stated["the model's path"] = path_step
    if (iteration := model_args.get("iteration")) is not None:
        if not iteration.isdigit():
            raise InvalidResultFile(f"`iteration` in `config.model_args` must be a whole number, got {iteration!r}.")
        stated["`iteration`"] = int(iteration)
    revision = model_args.get("revision") or config.get("model_revision")
    try:
        if (revision_step := step_from_revision(revision)) is not None:
            stated["the revision"] = revision_step
    except InvalidResultFile:
        # A commit hash names no step, but a checkpoint folder beside it does.
        if not stated:
            raise
    if len(set(stated.values())) > 1:
        named = ", ".join(f"{where} says {step}" for where, step in stated.items())
        raise InvalidResultFile(f"the file names two steps ({named}): pass the step explicitly.")
    return next(iter(stated.values()), None)


def _source(data: Mapping, model_args: Mapping[str, str], origin: str) -> str:
    # `load` is where GPT-NeoX reads its checkpoints from, when the whole training configuration is the model_args.
    for key in ("pretrained", "load"):
        if model_args.get(key):
            return model_args[key]
    if isinstance(data.get("model_name"), str) and data["model_name"].strip():
        return data["model_name"]
    if isinstance(data.get("model_name_sanitized"), str) and data["model_name_sanitized"].strip():
        return data["model_name_sanitized"].replace(SANITIZED_SEPARATOR, "/")
    path = PurePath(origin)
    if path.stem.startswith("results") and path.parent.name:
        return path.parent.name.replace(SANITIZED_SEPARATOR, "/")
    return path.stem


def _parents(data: Mapping) -> dict[str, str]:
    """Each task's group from `group_subtasks` (`{"mmlu_stem": ["mmlu_anatomy", …]}`): the first group listing it."""
    parents: dict[str, str] = {}
    for group, members in _mapping(data, "group_subtasks").items():
        if not isinstance(members, list) or not all(isinstance(member, str) for member in members):
            raise InvalidResultFile(f"unknown layout: `group_subtasks` of {group} must be a list of task names.")
        _check_length("group name", str(group), MAX_NAME)
        for member in members:
            if member != group:
                parents.setdefault(member, str(group))
    return parents


def _model_args(raw: object) -> dict[str, str]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return {str(key): str(value) for key, value in raw.items() if value is not None}
    if isinstance(raw, str):
        pairs = (item.partition("=") for item in raw.split(","))
        return {key.strip(): value.strip() for key, sep, value in pairs if sep}
    raise InvalidResultFile(f"`config.model_args` must be a string or an object, got {_kind(raw)}.")


def _parse_task(name: str, row: object, sections: "_Sections") -> ParsedTask | None:
    _check_length("task name", name, MAX_NAME)
    if not isinstance(row, Mapping):
        raise InvalidResultFile(f"{name}: expected an object of metrics, got {_kind(row)}.")
    directions = sections.higher_is_better.get(name) or {}
    if not isinstance(directions, Mapping):
        raise InvalidResultFile(f"{name}: `higher_is_better` must map metrics to true/false.")
    values, stderrs = _split_row(name, row, is_v04=sections.is_v04)
    if orphans := sorted(stderrs.keys() - values.keys()):
        raise InvalidResultFile(f"{name}: a standard error for {orphans[0]!r} but no value.")
    if not values:
        return None
    metrics = []
    for key, (metric, value) in values.items():
        declared = directions.get(metric)
        if declared is not None and not isinstance(declared, bool):
            raise InvalidResultFile(f"{name}: `higher_is_better` of {metric} must be true or false, got {declared!r}.")
        metrics.append(ParsedMetric(key, metric, value, stderrs.get(key), declared))
    return ParsedTask(
        task=name,
        num_fewshot=_num_fewshot(name, sections.n_shot, sections.config),
        version=_version(name, sections.versions),
        metrics=tuple(metrics),
        config=sections.evaluation_config(name),
        group=sections.parents.get(name, ""),
    )


def _split_row(task: str, row: Mapping, *, is_v04: bool) -> tuple[dict, dict]:
    """Values {key: (metric name, value)} and standard errors {key: stderr}, keyed by the stored metric key."""
    values: dict[str, tuple[str, float]] = {}
    stderrs: dict[str, float | None] = {}
    for raw_key, raw in row.items():
        if raw_key in ROW_KEYS or (raw_key == PLACEHOLDER and raw == PLACEHOLDER):
            continue
        metric, sep, filter_name = str(raw_key).partition(",")
        if bool(sep) != is_v04 or not metric or (sep and not filter_name):
            raise InvalidResultFile(
                f"unknown layout: {task} has the metric key {raw_key!r} in a file whose other keys are "
                f"{'0.4-style metric,filter' if is_v04 else '0.3-style plain'} keys."
            )
        is_stderr = metric.endswith(STDERR_SUFFIX)
        metric = metric.removesuffix(STDERR_SUFFIX) if is_stderr else metric
        key = metric if filter_name in ("", NO_FILTER) else f"{metric},{filter_name}"
        _check_length("metric key", key, MAX_NAME)
        target = stderrs if is_stderr else values
        if key in target:
            raise InvalidResultFile(f"{task}: the metric {key!r} appears twice.")
        if is_stderr:
            stderrs[key] = _stderr(task, raw_key, raw)
        else:
            values[key] = (metric, _number(task, raw_key, raw))
    return values, stderrs


def _number(task: str, key: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InvalidResultFile(f"{task}: {key} must be a number, got {raw!r}.")
    # JSON integers have no size limit; one too large for a float is as unusable as an infinity.
    value = float(raw) if isinstance(raw, float) or abs(raw) <= MAX_FLOAT_INT else math.inf
    if not math.isfinite(value):
        raise InvalidResultFile(f"{task}: {key} must be a finite number, got {value}.")
    return value


def _stderr(task: str, key: str, raw: object) -> float | None:
    if raw == NO_STDERR:
        return None
    value = _number(task, key, raw)
    if value < 0:
        raise InvalidResultFile(f"{task}: {key} is a standard error and cannot be negative, got {value}.")
    return value


def _num_fewshot(task: str, n_shot: Mapping, config: Mapping) -> int:
    raw, where = (n_shot[task], f"n-shot of {task}") if task in n_shot else (config.get("num_fewshot"), "num_fewshot")
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_FEWSHOT:
        raise InvalidResultFile(f"{where} must be a whole number from 0 to {MAX_FEWSHOT}, got {raw!r}.")
    return raw


def _version(task: str, versions: Mapping) -> str:
    raw = versions.get(task)
    if raw is None:
        return ""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise InvalidResultFile(f"the version of {task} must be text or a number, got {raw!r}.")
    version = str(raw).strip()
    _check_length(f"the version of {task}", version, MAX_VERSION)
    return "" if version in NO_VERSION else version


def _times(data: Mapping) -> tuple[datetime | None, datetime | None]:
    raw = data.get("date")
    if raw is None:
        return None, None
    try:
        started_at = datetime.fromtimestamp(_number("date", "date", raw), tz=UTC)
    except (InvalidResultFile, ValueError, OverflowError, OSError):
        raise InvalidResultFile(f"`date` must be a Unix timestamp, got {raw!r}.") from None
    duration = data.get("total_evaluation_time_seconds")
    if duration is None:
        return started_at, started_at
    try:
        seconds = float(duration)
        if not 0 <= seconds < math.inf:
            raise ValueError
        return started_at, started_at + timedelta(seconds=seconds)
    except (ValueError, TypeError, OverflowError):
        raise InvalidResultFile(f"`total_evaluation_time_seconds` must be a duration, got {duration!r}.") from None


def _mapping(data: Mapping, key: str) -> Mapping:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidResultFile(f"unknown layout: `{key}` must be an object, got {_kind(value)}.")
    return value


def _check_length(what: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise InvalidResultFile(f"the {what} is longer than {limit} characters: {text[:40]!r}….")


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(type(value), repr(value))
