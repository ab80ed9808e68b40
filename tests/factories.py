"""Plain factory functions: keyword-only arguments, sensible defaults, nothing hidden."""

import itertools

from evaluations.models import Benchmark, Checkpoint, Evaluation, Metric, ModelFamily, Score, Training

_counter = itertools.count(1)


def model(*, name: str | None = None, **fields) -> ModelFamily:
    return ModelFamily.objects.get_or_create(name=name or f"model-{next(_counter)}", defaults=fields)[0]


def training(*, name: str | None = None, model_name: str | None = None, **fields) -> Training:
    owner = fields.pop("model", None) or model(name=model_name)
    return Training.objects.get_or_create(model=owner, name=name or f"training-{next(_counter)}", defaults=fields)[0]


def checkpoint(*, training_name: str | None = None, step: int = 1000, **fields) -> Checkpoint:
    owner = fields.pop("training", None) or training(name=training_name)
    return Checkpoint.objects.get_or_create(training=owner, step=step, defaults=fields)[0]


def benchmark(*, slug: str | None = None, num_fewshot: int = 0, version: str = "", **fields) -> Benchmark:
    slug = slug or f"task-{next(_counter)}"
    fields.setdefault("name", slug)
    return Benchmark.objects.get_or_create(slug=slug, num_fewshot=num_fewshot, version=version, defaults=fields)[0]


def metric(*, key: str = "acc", higher_is_better: bool = True, is_primary: bool | None = None, **fields) -> Metric:
    owner = fields.pop("benchmark", None) or benchmark()
    if is_primary is None:
        is_primary = not owner.metrics.filter(is_primary=True).exists()
    direction = Metric.Direction.HIGHER if higher_is_better else Metric.Direction.LOWER
    return Metric.objects.create(benchmark=owner, key=key, direction=direction, is_primary=is_primary, **fields)


def evaluation(
    *, checkpoint_obj: Checkpoint | None = None, benchmark_obj: Benchmark | None = None, **fields
) -> Evaluation:
    fields.setdefault("status", Evaluation.Status.SUCCEEDED)
    return Evaluation.objects.create(
        checkpoint=checkpoint_obj or checkpoint(), benchmark=benchmark_obj or benchmark(), **fields
    )


def score(
    *,
    metric: Metric,
    value: float,
    stderr: float | None = None,
    training: str | None = None,
    step: int = 1000,
    checkpoint_obj: Checkpoint | None = None,
) -> Score:
    """A succeeded evaluation holding one score, through the same write path as imports and the API."""
    from evaluations.results import ScoreValue, record_result

    target = checkpoint_obj or checkpoint(training_name=training, step=step)
    result = record_result(target, metric.benchmark, {metric: ScoreValue(value, stderr)}, source="admin")
    return result.evaluation.scores.get(metric=metric)


def user(*, username: str | None = None, perms: tuple[str, ...] = (), is_staff: bool = False, **fields):
    """A user with the permissions named 'app_label.codename' (no password: hashing one takes a while)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    account = get_user_model().objects.create_user(
        username=username or f"user-{next(_counter)}", password=None, is_staff=is_staff, **fields
    )
    for perm in perms:
        app_label, codename = perm.split(".")
        account.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return account


def api_token(*, owner=None, name: str = "test token"):
    """An API token and its key (the key exists only here: the database keeps its hash)."""
    from accounts.models import ApiToken

    return ApiToken.objects.issue(owner or user(), name=name)
