"""Benchmarks and metrics as writers of results find them: fetched by identity, created on first sight if allowed.

Every writer (the importer, `POST /results/`, the lm-eval upload) resolves them through one `Catalog`, so a new
benchmark or metric gets the same defaults (`importers.known`) whoever brings it, and a writer that may not create
them is refused on every path, naming what is unknown.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .importers import known
from .models import Benchmark, Metric

Identity = tuple[str, int, str]


@dataclass(frozen=True)
class MetricSpec:
    """A metric as a writer names it: its key, and what the writer says of its direction, if anything."""

    key: str
    # What a result file's `higher_is_better` says; the table in `known` decides when it says nothing.
    higher_is_better: bool | None = None
    # A direction the writer sets outright (the API's `directions`), which wins over both.
    direction: str = ""

    @property
    def name(self) -> str:
        """The metric without its filter: `exact_match` for `exact_match,strict-match`."""
        return self.key.split(",")[0]


def metric_specs(keys: Iterable[str], directions: Mapping[str, str]) -> list[MetricSpec]:
    """The metrics a writer names by key, with the directions it sets for some of them."""
    return [MetricSpec(key, direction=directions.get(key, "")) for key in keys]


class Catalog:
    """Benchmarks and their metrics by identity, each fetched or created once per catalog instead of once per result.

    `may_create_benchmarks` and `may_create_metrics` say whether the writer may create what is unknown; when it may
    not, `benchmark` and `metrics` raise LookupError naming what is missing.
    """

    def __init__(self, *, may_create_benchmarks: bool = True, may_create_metrics: bool = True) -> None:
        self.may_create_benchmarks = may_create_benchmarks
        self.may_create_metrics = may_create_metrics
        self._benchmarks: dict[Identity, tuple[Benchmark, dict[str, Metric]]] = {}

    def prefetch(self, identities: Iterable[Identity]) -> None:
        """Fetch these benchmarks and their metrics in one query (those already known are fetched again)."""
        slugs = {slug for slug, _, _ in identities}
        for benchmark in Benchmark.objects.filter(slug__in=slugs).prefetch_related("metrics"):
            self._remember(benchmark)

    def forget(self) -> None:
        """Drop everything cached: after a rollback, rows created meanwhile are gone."""
        self._benchmarks.clear()

    def benchmark(self, identity: Identity, *, create: bool = True) -> Benchmark:
        """The benchmark, creating it when asked and allowed; else LookupError says why."""
        if identity not in self._benchmarks:
            slug, num_fewshot, version = identity
            benchmark = Benchmark.objects.filter(slug=slug, num_fewshot=num_fewshot, version=version).first()
            self._remember(benchmark or self._create_benchmark(identity, create=create))
        return self._benchmarks[identity][0]

    def metrics(self, benchmark: Benchmark, specs: Iterable[MetricSpec], *, create: bool = True) -> dict[str, Metric]:
        """The metrics of `benchmark` named in `specs`, by key, creating new ones when asked and allowed."""
        identity = (benchmark.slug, benchmark.num_fewshot, benchmark.version)
        known_metrics = self._benchmarks[identity][1] if identity in self._benchmarks else self._remember(benchmark)
        specs = list(specs)
        if new := [spec for spec in specs if spec.key not in known_metrics]:
            keys = ", ".join(spec.key for spec in new)
            if not create:
                raise LookupError(
                    f"Unknown metric(s) of {benchmark.slug}: {keys}. An admin must add them, or post with "
                    "create_missing=true using a token allowed to create metrics."
                )
            if not self.may_create_metrics:
                raise LookupError(f"Unknown metric(s) of {benchmark.slug}: {keys}; this token may not add them.")
            known_metrics.update(self._create_metrics(benchmark, known_metrics, new))
        return {spec.key: known_metrics[spec.key] for spec in specs}

    def _remember(self, benchmark: Benchmark) -> dict[str, Metric]:
        metrics = {metric.key: metric for metric in benchmark.metrics.all()}
        self._benchmarks[(benchmark.slug, benchmark.num_fewshot, benchmark.version)] = benchmark, metrics
        return metrics

    def _create_benchmark(self, identity: Identity, *, create: bool) -> Benchmark:
        slug, num_fewshot, version = identity
        described = f"{slug!r} ({num_fewshot}-shot, version {version!r})"
        if not create:
            raise LookupError(
                f"Unknown benchmark {described}: an admin must create it, or post with create_missing=true "
                "using a token allowed to create benchmarks."
            )
        if not self.may_create_benchmarks:
            raise LookupError(f"Unknown benchmark {described}, and this token may not create benchmarks.")
        benchmark, _ = Benchmark.objects.get_or_create(
            slug=slug,
            num_fewshot=num_fewshot,
            version=version,
            defaults={"name": slug, "category": known.category_of(slug)},
        )
        return benchmark

    @staticmethod
    def _create_metrics(benchmark: Benchmark, existing: dict[str, Metric], new: list[MetricSpec]) -> dict[str, Metric]:
        """New metrics with the defaults of `known`: directions, baselines, bounds and the choice of a primary."""
        directions = {spec.key: spec.direction or known.direction_of(spec.name, spec.higher_is_better) for spec in new}
        primary = None
        if not any(metric.is_primary for metric in existing.values()):
            # min() keeps the first of equals: the writer's order breaks ties.
            primary = min(new, key=lambda spec: known.primary_order(spec.name, directions[spec.key])).key
        created = {}
        for spec in new:
            lower, upper = known.bounds_of(spec.name)
            created[spec.key], _ = Metric.objects.get_or_create(
                benchmark=benchmark,
                key=spec.key,
                defaults={
                    "direction": directions[spec.key],
                    "is_primary": spec.key == primary,
                    "baseline": known.baseline_of(benchmark.slug, spec.name),
                    "lower_bound": lower,
                    "upper_bound": upper,
                },
            )
        return created
