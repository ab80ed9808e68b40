"""A plain-Python reference of docs/rankings.md, written from the definitions only, to check the SQL against.

It knows nothing of Django: checkpoints, metrics and values come in as plain data, rows come out as plain data.
Method, missing-value policy and tie style are the strings of `rankings.methods` ("metric", "require_all", ...).
Deliberately slow and literal: every quantity is computed the way the page words it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

# Float arithmetic in SQL and Python may differ in the last bit: scores this close are the same score.
TIE_TOLERANCE = 1e-12

METHODS = ("metric", "mean", "weighted_mean", "normalised_mean", "mean_rank", "win_rate")


@dataclass(frozen=True)
class RefMetric:
    id: int
    direction: str  # "higher", "lower" or "unknown"
    lower_bound: float | None = None
    upper_bound: float | None = None
    baseline: float | None = None

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    def oriented(self, value: float) -> float:
        """The value, negated for lower-is-better metrics, so that larger is always better."""
        return value if self.higher_is_better else -value

    def unoriented(self, oriented: float) -> float:
        return oriented if self.higher_is_better else -oriented

    @property
    def oriented_baseline(self) -> float | None:
        return None if self.baseline is None else self.oriented(self.baseline)

    @property
    def oriented_best_bound(self) -> float | None:
        """The upper bound of a higher-is-better metric, the lower bound of a lower-is-better one, oriented."""
        bound = self.upper_bound if self.higher_is_better else self.lower_bound
        return None if bound is None else self.oriented(bound)


@dataclass(frozen=True)
class RefCheckpoint:
    id: int  # the listing's last tie-breaker, as the primary key is
    training: int  # which training: best-checkpoint-only groups by it
    training_name: str  # the listing's first tie-breaker (two trainings of different models may share a name)
    step: int


@dataclass(frozen=True)
class RefSpec:
    metrics: tuple[tuple[RefMetric, float], ...]  # (metric, weight)
    method: str = "metric"
    best_only: bool = False
    missing: str = "require_all"
    ties: str = "standard"

    @property
    def higher_is_better(self) -> bool:
        """Whether a higher score is better: the metrics' direction for raw-value methods, no for mean rank."""
        if self.method in ("metric", "mean", "weighted_mean"):
            return self.metrics[0][0].higher_is_better
        return self.method != "mean_rank"


@dataclass(frozen=True)
class RefRow:
    checkpoint: int
    score: float
    rank: int
    coverage: int
    checkpoints_ranked: int


@dataclass(frozen=True)
class RefEvaluation:
    """One evaluation of a (checkpoint, benchmark) in the order it was created."""

    checkpoint: int
    benchmark: int
    status: str
    finished_at: datetime | None
    values: Mapping[int, float]  # metric id → value


def current_values(evaluations: Iterable[RefEvaluation]) -> dict[tuple[int, int], float]:
    """(checkpoint id, metric id) → the value from the latest succeeded evaluation of its benchmark.

    Latest by finish time, then by creation (the order given); any other status never counts.
    """
    latest: dict[tuple[int, int], tuple[tuple, RefEvaluation]] = {}
    for created, evaluation in enumerate(evaluations):
        if evaluation.status != "succeeded":
            continue
        # An evaluation without a finish time is older than any that has one.
        when = (evaluation.finished_at is not None, evaluation.finished_at or datetime.min, created)
        pair = (evaluation.checkpoint, evaluation.benchmark)
        if pair not in latest or when > latest[pair][0]:
            latest[pair] = (when, evaluation)
    return {
        (checkpoint, metric): value
        for (checkpoint, _), (_, evaluation) in latest.items()
        for metric, value in evaluation.values.items()
    }


def refusal(spec: RefSpec) -> str | None:
    """Why the spec cannot be ranked, or None when it can."""
    if not spec.metrics:
        return "no metric"
    if len({metric.id for metric, _ in spec.metrics}) != len(spec.metrics):
        return "a metric chosen twice"
    if any(metric.direction not in ("higher", "lower") for metric, _ in spec.metrics):
        return "unknown direction"
    if spec.method == "metric" and len(spec.metrics) != 1:
        return "a single-metric ranking takes one metric"
    if spec.method in ("mean", "weighted_mean"):
        first = spec.metrics[0][0]
        if any(metric.direction != first.direction for metric, _ in spec.metrics):
            return "different directions: use the normalised mean"
        # "one known scale (identical, set lower and upper bounds)": every metric, also a lone one, needs both.
        scales = {(metric.lower_bound, metric.upper_bound) for metric, _ in spec.metrics}
        if len(scales) != 1 or None in next(iter(scales)):
            return "not one known scale: use the normalised mean"
    return None


def same_score(a: float, b: float, tolerance: float = TIE_TOLERANCE) -> bool:
    return abs(a - b) <= tolerance * max(1, abs(a), abs(b))


def rank(
    checkpoints: Iterable[RefCheckpoint],
    values: Mapping[tuple[int, int], float],
    spec: RefSpec,
    *,
    exact: bool = False,
) -> list[RefRow]:
    """The rows of the ranking of `checkpoints` (the candidates) by `spec`, in listing order.

    With `exact`, every quantity is a Fraction: scores are then exact and only equal ones tie, which tells a tie
    from two scores that merely round alike.
    """
    reason = refusal(spec)
    if reason is not None:
        raise ValueError(reason)
    number = Fraction if exact else float
    tolerance = 0 if exact else TIE_TOLERANCE
    metrics = [metric for metric, _ in spec.metrics]
    weights = {metric.id: number(1 if spec.method == "mean" else weight) for metric, weight in spec.metrics}
    candidates = list(checkpoints)

    # Oriented values each checkpoint has; a checkpoint with none of the metrics is never a row.
    own = {
        c.id: {m.id: m.oriented(number(values[c.id, m.id])) for m in metrics if (c.id, m.id) in values}
        for c in candidates
    }
    pool = [c for c in candidates if own[c.id]]
    if spec.missing == "require_all":
        pool = [c for c in pool if len(own[c.id]) == len(metrics)]
    coverage = {c.id: len(own[c.id]) for c in pool}

    observed = {m.id: [own[c.id][m.id] for c in pool if m.id in own[c.id]] for m in metrics}
    worst = {m_id: min(seen) for m_id, seen in observed.items() if seen}
    best = {m_id: max(seen) for m_id, seen in observed.items() if seen}

    # The oriented value of each row per metric, the worst observed standing in for a missing one under `worst`.
    filled: dict[int, dict[int, float]] = {}
    for c in pool:
        filled[c.id] = dict(own[c.id])
        if spec.missing == "worst":
            for m in metrics:
                if m.id not in filled[c.id] and m.id in worst:
                    filled[c.id][m.id] = worst[m.id]

    def per_metric(c: RefCheckpoint, m: RefMetric) -> float | None:
        """xᵢ of the definitions, None when it does not exist."""
        if m.id not in filled[c.id]:
            return None
        mine = filled[c.id][m.id]
        others = [filled[o.id][m.id] for o in pool if o.id != c.id and m.id in filled[o.id]]
        if spec.method in ("metric", "mean", "weighted_mean"):
            return m.unoriented(mine)
        if spec.method == "normalised_mean":
            z = number(m.oriented_baseline) if m.baseline is not None else worst[m.id]
            h = number(m.oriented_best_bound) if m.oriented_best_bound is not None else best[m.id]
            if h <= z:
                return number(0)
            return min(number(100), max(number(0), 100 * (mine - z) / (h - z)))
        if spec.method == "mean_rank":
            return number(1 + sum(1 for other in others if other > mine))
        if spec.method == "win_rate":
            if not others:
                return None
            beaten = sum(1 for other in others if other < mine)
            tied = sum(1 for other in others if other == mine)
            return (number(beaten) + number(tied) / 2) / len(others)
        raise ValueError(f"unknown method {spec.method!r}")

    scores: dict[int, float] = {}
    for c in pool:
        present = [(weights[m.id], x) for m in metrics if (x := per_metric(c, m)) is not None]
        if present:
            scores[c.id] = sum(w * x for w, x in present) / sum(w for w, _ in present)

    rows = [c for c in pool if c.id in scores]
    sort_key = {c_id: (score if spec.higher_is_better else -score) for c_id, score in scores.items()}
    # "Out of how many": the training's candidate checkpoints after the missing-value policy, also one whose score
    # does not exist (a win rate on metrics no other candidate has).
    group_size = {c.training: sum(1 for o in pool if o.training == c.training) for c in rows}

    if spec.best_only:
        chosen = {}
        for c in sorted(rows, key=lambda c: c.step):  # earlier steps first: a tie keeps the earlier one
            held = chosen.get(c.training)
            if held is None or (
                sort_key[c.id] > sort_key[held.id] and not same_score(sort_key[c.id], sort_key[held.id], tolerance)
            ):
                chosen[c.training] = c
        rows = list(chosen.values())

    ranks = _competition_ranks([sort_key[c.id] for c in rows], dense=spec.ties == "dense", tolerance=tolerance)
    listed = [RefRow(c.id, scores[c.id], ranks[i], coverage[c.id], group_size[c.training]) for i, c in enumerate(rows)]
    order = {c.id: (c.training_name, c.step, c.id) for c in rows}
    return sorted(listed, key=lambda row: (row.rank, order[row.checkpoint]))


def _competition_ranks(keys: list[float], *, dense: bool, tolerance: float) -> list[int]:
    """Rank of each key, larger first: 1, 2, 2, 4 (standard) or 1, 2, 2, 3 (dense); near-equal keys tie."""
    by_key = sorted(range(len(keys)), key=lambda i: -keys[i])
    ranks = [0] * len(keys)
    previous = None
    rank = distinct = 0
    for position, i in enumerate(by_key):
        if previous is None or not same_score(keys[i], previous, tolerance):
            distinct += 1
            rank = distinct if dense else position + 1
            previous = keys[i]
        ranks[i] = rank
    return ranks
