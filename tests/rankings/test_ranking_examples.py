"""Small rankings worked out by hand from docs/rankings.md, one per method and rule."""

from datetime import UTC, datetime

import pytest

from evaluations.models import Benchmark, Checkpoint, Evaluation, Metric, Score
from evaluations.results import ScoreValue, record_result, resolve_checkpoint
from rankings.methods import Method, Missing, RankingError, RankingSpec, Ties, WeightedMetric
from rankings.models import RankedCheckpoint

pytestmark = pytest.mark.django_db


def _metric(
    slug: str,
    *,
    key: str = "acc",
    higher: bool = True,
    lower: float | None = None,
    upper: float | None = None,
    baseline: float | None = None,
) -> Metric:
    benchmark = Benchmark.objects.get_or_create(slug=slug, defaults={"name": slug})[0]
    direction = Metric.Direction.HIGHER if higher else Metric.Direction.LOWER
    return Metric.objects.create(
        benchmark=benchmark, key=key, direction=direction, lower_bound=lower, upper_bound=upper, baseline=baseline
    )


def _accuracy(slug: str, *, key: str = "acc") -> Metric:
    return _metric(slug, key=key, lower=0.0, upper=1.0)


def _checkpoint(training: str, step: int = 1000, *, model: str = "pythia") -> Checkpoint:
    return resolve_checkpoint(model, training, step)


def _record(checkpoint: Checkpoint, values: dict[Metric, float], *, finished: datetime | None = None) -> None:
    """One succeeded evaluation of the metrics' benchmark (all metrics given belong to one benchmark)."""
    benchmark = next(iter(values)).benchmark
    scores = {metric: ScoreValue(value) for metric, value in values.items()}
    record_result(checkpoint, benchmark, scores, source="api", finished_at=finished)


def _scores(metric: Metric, values: dict[str, float]) -> None:
    """Each training's checkpoint at step 1000 gets `value` on `metric`."""
    for training, value in values.items():
        _record(_checkpoint(training), {metric: value})


def _spec(metrics: list[Metric], method: str, weights: list[float] | None = None, **options) -> RankingSpec:
    weights = weights or [1.0] * len(metrics)
    return RankingSpec(tuple(WeightedMetric(m, w) for m, w in zip(metrics, weights, strict=True)), method, **options)


def _ranked(spec: RankingSpec, **filters) -> list[tuple[str, int]]:
    return [(row.training.name, row.rank) for row in RankedCheckpoint.objects.filter(**filters).ranked(spec)]


def _scored(spec: RankingSpec, **filters) -> list[tuple[str, int, float]]:
    return [
        (row.training.name, row.rank, pytest.approx(row.score))
        for row in RankedCheckpoint.objects.filter(**filters).ranked(spec)
    ]


def test_single_metric_ties_share_a_rank_and_skip_the_next():
    acc = _accuracy("arc")
    _scores(acc, {"a": 0.9, "b": 0.7, "c": 0.7, "d": 0.5})
    assert _ranked(RankingSpec.of(acc)) == [("a", 1), ("b", 2), ("c", 2), ("d", 4)]


def test_dense_ties_do_not_skip_ranks():
    acc = _accuracy("arc")
    _scores(acc, {"a": 0.9, "b": 0.7, "c": 0.7, "d": 0.5})
    assert _ranked(RankingSpec.of(acc, ties=Ties.DENSE)) == [("a", 1), ("b", 2), ("c", 2), ("d", 3)]


def test_lower_is_better_metric_ranks_ascending():
    perplexity = _metric("wikitext", key="word_perplexity", higher=False)
    _scores(perplexity, {"a": 12.0, "b": 9.5, "c": 12.0})
    assert _scored(RankingSpec.of(perplexity)) == [("b", 1, 9.5), ("a", 2, 12.0), ("c", 2, 12.0)]


def test_tied_rows_are_listed_by_training_name_then_step_then_id():
    acc = _accuracy("arc")
    checkpoints = [
        _checkpoint("beta", 2000),
        _checkpoint("alpha", 3000),
        _checkpoint("alpha", 1000),
        _checkpoint("alpha", 1000, model="other-model"),
    ]
    for checkpoint in checkpoints:
        _record(checkpoint, {acc: 0.5})
    rows = list(RankedCheckpoint.objects.all().ranked(RankingSpec.of(acc)))
    assert [row.pk for row in rows] == [checkpoints[i].pk for i in (2, 3, 1, 0)]
    assert {row.rank for row in rows} == {1}


def test_mean_averages_raw_values_and_ignores_weights():
    acc, acc_norm = _accuracy("arc"), _accuracy("hellaswag")
    for training, first, second in [("a", 0.5, 1.0), ("b", 0.75, 0.75), ("c", 1.0, 0.0)]:
        checkpoint = _checkpoint(training)
        _record(checkpoint, {acc: first})
        _record(checkpoint, {acc_norm: second})
    expected = [("a", 1, 0.75), ("b", 1, 0.75), ("c", 3, 0.5)]
    assert _scored(_spec([acc, acc_norm], Method.MEAN)) == expected
    assert _scored(_spec([acc, acc_norm], Method.MEAN, [3.0, 1.0])) == expected


def test_weighted_mean_uses_the_weights():
    acc, acc_norm = _accuracy("arc"), _accuracy("hellaswag")
    for training, first, second in [("a", 0.5, 1.0), ("b", 0.75, 0.75), ("c", 1.0, 0.0)]:
        checkpoint = _checkpoint(training)
        _record(checkpoint, {acc: first})
        _record(checkpoint, {acc_norm: second})
    spec = _spec([acc, acc_norm], Method.WEIGHTED_MEAN, [3.0, 1.0])
    assert _scored(spec) == [("b", 1, 0.75), ("c", 1, 0.75), ("a", 3, 0.625)]


def test_aggregated_scores_closer_than_the_ninth_decimal_share_a_rank():
    # docs/rankings.md: aggregated scores are compared rounded to 9 decimals, so that equal means reached through
    # different sums tie; the price is that scores 10⁻¹⁰ apart tie too.
    acc, acc_norm = _accuracy("arc"), _accuracy("hellaswag")
    for training, first in [("a", 0.5000000002), ("b", 0.5)]:
        checkpoint = _checkpoint(training)
        _record(checkpoint, {acc: first})
        _record(checkpoint, {acc_norm: 0.5})
    assert _scored(_spec([acc, acc_norm], Method.MEAN)) == [("a", 1, 0.5000000001), ("b", 1, 0.5)]


def test_mean_of_lower_is_better_metrics_ranks_ascending():
    error = _metric("arc", key="error", higher=False, lower=0.0, upper=1.0)
    other_error = _metric("mmlu", key="error", higher=False, lower=0.0, upper=1.0)
    for training, first, second in [("a", 0.5, 0.25), ("b", 0.25, 0.25), ("c", 0.0, 1.0)]:
        checkpoint = _checkpoint(training)
        _record(checkpoint, {error: first})
        _record(checkpoint, {other_error: second})
    assert _scored(_spec([error, other_error], Method.MEAN)) == [("b", 1, 0.25), ("a", 2, 0.375), ("c", 3, 0.5)]


def test_normalised_mean_maps_baseline_to_0_and_best_bound_or_best_observed_to_100():
    # acc: 0 at the baseline 0.25, 100 at the upper bound 1; below the baseline is clamped to 0.
    acc = _metric("arc", lower=0.0, upper=1.0, baseline=0.25)
    # perplexity: no bounds or baseline, so 0 at the worst observed (30) and 100 at the best observed (10).
    perplexity = _metric("wikitext", key="word_perplexity", higher=False)
    for training, accuracy, ppl in [("a", 1.0, 10.0), ("b", 0.625, 25.0), ("c", 0.1, 30.0)]:
        checkpoint = _checkpoint(training)
        _record(checkpoint, {acc: accuracy})
        _record(checkpoint, {perplexity: ppl})
    # b: acc 100·0.375/0.75 = 50, perplexity 100·5/20 = 25.
    assert _scored(_spec([acc, perplexity], Method.NORMALISED_MEAN)) == [("a", 1, 100), ("b", 2, 37.5), ("c", 3, 0)]
    weighted = _spec([acc, perplexity], Method.NORMALISED_MEAN, [3.0, 1.0])
    assert _scored(weighted) == [("a", 1, 100), ("b", 2, 43.75), ("c", 3, 0)]


def test_normalised_mean_uses_the_lower_bound_as_best_of_a_lower_is_better_metric():
    error = _metric("arc", key="error", higher=False, lower=0.0, upper=1.0, baseline=0.75)
    _scores(error, {"a": 0.25, "b": 0.5, "c": 0.9})
    # 0 at the baseline 0.75, 100 at the lower bound 0: a = 100·0.5/0.75, b = 100·0.25/0.75.
    expected = [("a", 1, 200 / 3), ("b", 2, 100 / 3), ("c", 3, 0)]
    assert _scored(_spec([error], Method.NORMALISED_MEAN)) == expected


def test_normalised_metric_with_nobody_above_chance_gives_every_row_0():
    acc = _metric("arc", baseline=0.5)  # no upper bound: the best observed is the top
    other = _metric("mmlu")
    for training, accuracy, second in [("a", 0.5, 2.0), ("b", 0.25, 4.0)]:
        checkpoint = _checkpoint(training)
        _record(checkpoint, {acc: accuracy})
        _record(checkpoint, {other: second})
    assert _scored(_spec([acc, other], Method.NORMALISED_MEAN)) == [("b", 1, 50), ("a", 2, 0)]


def test_normalised_metric_where_all_candidates_are_equal_gives_every_row_0():
    acc = _metric("arc")
    _scores(acc, {"a": 0.5, "b": 0.5})
    assert _scored(_spec([acc], Method.NORMALISED_MEAN)) == [("a", 1, 0), ("b", 1, 0)]


@pytest.mark.parametrize("best_only", [False, True])
def test_equal_normalised_means_reached_by_different_values_tie(best_only):
    # 0 at the baseline, 100 at the upper bound 1: n = 100·(v − 0.25)/0.75 for the first and third, 100·v between.
    first, second, third = (
        _metric(slug, lower=0.0, upper=1.0, baseline=b) for slug, b in [("a", 0.25), ("b", 0), ("c", 0.25)]
    )
    for step, values in [(1000, (1.0, 0.75, 0.0)), (2000, (0.75, 0.75, 0.5))]:
        checkpoint = _checkpoint("run", step)
        for metric, value in zip((first, second, third), values, strict=True):
            _record(checkpoint, {metric: value})
    spec = _spec([first, second, third], Method.NORMALISED_MEAN, best_only=best_only)
    rows = [(row.step, row.rank) for row in RankedCheckpoint.objects.ranked(spec)]
    # Both score (100 + 75 + 0) / 3 = (66⅔ + 75 + 33⅓) / 3 = 58⅓: one rank, and the earlier step is the best.
    assert rows == ([(1000, 1)] if best_only else [(1000, 1), (2000, 1)])


def test_mean_rank_averages_per_metric_competition_ranks_and_lower_wins():
    acc = _accuracy("arc")
    perplexity = _metric("wikitext", key="word_perplexity", higher=False)
    for training, accuracy, ppl in [("a", 0.9, 30.0), ("b", 0.8, 10.0), ("c", 0.8, 20.0)]:
        checkpoint = _checkpoint(training)
        _record(checkpoint, {acc: accuracy})
        _record(checkpoint, {perplexity: ppl})
    # acc ranks a 1, b 2, c 2; perplexity ranks b 1, c 2, a 3.
    assert _scored(_spec([acc, perplexity], Method.MEAN_RANK)) == [("b", 1, 1.5), ("a", 2, 2), ("c", 2, 2)]
    weighted = _spec([acc, perplexity], Method.MEAN_RANK, [3.0, 1.0])
    assert _scored(weighted) == [("a", 1, 1.5), ("b", 2, 1.75), ("c", 3, 2.0)]


def test_mean_win_rate_counts_a_tie_as_half_a_win():
    acc = _accuracy("arc")
    perplexity = _metric("wikitext", key="word_perplexity", higher=False)
    for training, accuracy, ppl in [("a", 0.9, 30.0), ("b", 0.8, 10.0), ("c", 0.8, 20.0)]:
        checkpoint = _checkpoint(training)
        _record(checkpoint, {acc: accuracy})
        _record(checkpoint, {perplexity: ppl})
    # acc: a beats both (1), b and c beat nobody and tie once (0.25); perplexity: b 1, c 0.5, a 0.
    assert _scored(_spec([acc, perplexity], Method.WIN_RATE)) == [("b", 1, 0.625), ("a", 2, 0.5), ("c", 3, 0.375)]


@pytest.mark.parametrize("best_only", [False, True])
def test_equal_win_rates_reached_by_different_metrics_tie(best_only):
    first, second = _accuracy("arc"), _accuracy("mmlu")
    for step, values in [(1000, {first: 0.25, second: 1.0}), (2000, {first: 0.5}), (3000, {first: 0.75, second: 0.5})]:
        checkpoint = _checkpoint("run", step)
        for metric, value in values.items():
            _record(checkpoint, {metric: value})
    _record(_checkpoint("other"), {first: 0.0})
    spec = _spec([first, second], Method.WIN_RATE, missing=Missing.AVAILABLE, best_only=best_only)
    rows = [(row.training.name, row.step, row.rank) for row in RankedCheckpoint.objects.ranked(spec)]
    # first: 1000 beats 1 of 3 others, 2000 beats 2, 3000 beats 3; second: 1000 beats 3000.
    # Win rates: 1000 (1/3 + 1)/2 = 2/3; 2000 2/3; 3000 (1 + 0)/2 = 1/2; other 0.
    if best_only:
        assert rows == [("run", 1000, 1), ("other", 1000, 2)]
    else:
        assert rows == [("run", 1000, 1), ("run", 2000, 1), ("run", 3000, 3), ("other", 1000, 4)]


def test_win_rate_on_a_metric_no_other_candidate_has_does_not_exist():
    acc, unique = _accuracy("arc"), _accuracy("mmlu")
    a, b = _checkpoint("a"), _checkpoint("b")
    _record(a, {acc: 0.9})
    _record(a, {unique: 0.1})
    _record(b, {acc: 0.8})
    spec = _spec([acc, unique], Method.WIN_RATE, missing=Missing.AVAILABLE)
    rows = list(RankedCheckpoint.objects.ranked(spec))
    assert [(row.training.name, row.rank, row.score, row.coverage) for row in rows] == [
        ("a", 1, 1.0, 2),
        ("b", 2, 0.0, 1),
    ]


def _partial_results() -> tuple[Metric, Metric]:
    """a has both accuracies, b only the first, c only the second, d only another benchmark."""
    first, second, unrelated = _accuracy("arc"), _accuracy("mmlu"), _accuracy("piqa")
    for training, values in [("a", {first: 0.5, second: 0.5}), ("b", {first: 1.0}), ("c", {second: 0.25})]:
        checkpoint = _checkpoint(training)
        for metric, value in values.items():
            _record(checkpoint, {metric: value})
    _record(_checkpoint("d"), {unrelated: 1.0})
    return first, second


def _with_coverage(spec: RankingSpec) -> list[tuple[str, int, float, int]]:
    rows = RankedCheckpoint.objects.ranked(spec)
    return [(row.training.name, row.rank, pytest.approx(row.score), row.coverage) for row in rows]


def test_require_all_leaves_out_rows_lacking_a_metric():
    first, second = _partial_results()
    assert _with_coverage(_spec([first, second], Method.MEAN)) == [("a", 1, 0.5, 2)]


def test_available_only_averages_the_metrics_a_row_has():
    first, second = _partial_results()
    spec = _spec([first, second], Method.MEAN, missing=Missing.AVAILABLE)
    assert _with_coverage(spec) == [("b", 1, 1.0, 1), ("a", 2, 0.5, 2), ("c", 3, 0.25, 1)]


def test_worst_counts_a_missing_value_as_the_worst_observed_and_never_ranks_a_row_with_none():
    first, second = _partial_results()
    spec = _spec([first, second], Method.MEAN, missing=Missing.WORST)
    # Worst observed: first 0.5, second 0.25. b = (1 + 0.25) / 2, c = (0.5 + 0.25) / 2; d has neither.
    assert _with_coverage(spec) == [("b", 1, 0.625, 1), ("a", 2, 0.5, 2), ("c", 3, 0.375, 1)]


def test_worst_counts_a_missing_lower_is_better_value_as_the_highest_observed():
    perplexity = _metric("wikitext", key="word_perplexity", higher=False)
    acc = _accuracy("arc")
    for training, ppl in [("a", 10.0), ("b", 20.0)]:
        _record(_checkpoint(training), {perplexity: ppl})
    _record(_checkpoint("c"), {acc: 0.5})
    spec = _spec([perplexity, acc], Method.MEAN_RANK, missing=Missing.WORST)
    # perplexity: a 1, b 2, c (filled with 20) 2; acc: every row filled with 0.5, all rank 1.
    assert _with_coverage(spec) == [("a", 1, 1.0, 1), ("b", 2, 1.5, 1), ("c", 2, 1.5, 1)]


def test_filled_in_worst_values_take_part_in_ranks():
    first, second = _accuracy("arc"), _accuracy("mmlu")
    for training, values in [("a", {first: 0.9, second: 0.1}), ("b", {first: 0.5, second: 0.2}), ("c", {second: 0.3})]:
        checkpoint = _checkpoint(training)
        for metric, value in values.items():
            _record(checkpoint, {metric: value})
    spec = _spec([first, second], Method.MEAN_RANK, missing=Missing.WORST)
    # first: a 1, b 2, c (filled with 0.5) 2; second: c 1, b 2, a 3.
    assert _with_coverage(spec) == [("c", 1, 1.5, 1), ("a", 2, 2.0, 2), ("b", 2, 2.0, 2)]


def test_require_all_observes_the_complete_rows_only():
    first, second = _metric("arc"), _metric("mmlu")
    for training, values in [("a", {first: 0.5, second: 0.5}), ("e", {first: 0.75, second: 0.5}), ("b", {first: 1.0})]:
        checkpoint = _checkpoint(training)
        for metric, value in values.items():
            _record(checkpoint, {metric: value})
    # The best observed on `first` is e's 0.75, not b's 1.0; `second` is equal everywhere and gives 0.
    assert _scored(_spec([first, second], Method.NORMALISED_MEAN)) == [("e", 1, 50), ("a", 2, 0)]


def test_best_checkpoint_only_keeps_the_earlier_step_on_a_tie_and_says_out_of_how_many():
    acc = _accuracy("arc")
    for training, step, value in [
        ("a", 3000, 0.8),
        ("a", 1000, 0.5),
        ("a", 2000, 0.8),
        ("b", 1000, 0.6),
        ("b", 2000, 0.9),
    ]:
        _record(_checkpoint(training, step), {acc: value})
    rows = list(RankedCheckpoint.objects.ranked(RankingSpec.of(acc, best_only=True)))
    assert [(row.training.name, row.step, row.rank, row.checkpoints_ranked) for row in rows] == [
        ("b", 2000, 1, 2),
        ("a", 2000, 2, 3),
    ]


def test_best_checkpoint_only_of_lower_is_better_keeps_the_lowest():
    perplexity = _metric("wikitext", key="word_perplexity", higher=False)
    for step, value in [(1000, 20.0), (2000, 10.0), (3000, 15.0)]:
        _record(_checkpoint("a", step), {perplexity: value})
    rows = list(RankedCheckpoint.objects.ranked(RankingSpec.of(perplexity, best_only=True)))
    assert [(row.step, row.rank, row.score, row.checkpoints_ranked) for row in rows] == [(2000, 1, 10.0, 3)]


def test_mean_rank_with_best_checkpoint_only_compares_with_every_candidate_checkpoint():
    acc = _accuracy("arc")
    for training, step, value in [("a", 1000, 0.5), ("a", 2000, 0.9), ("a", 3000, 0.8), ("b", 1000, 0.7)]:
        _record(_checkpoint(training, step), {acc: value})
    spec = _spec([acc], Method.MEAN_RANK, best_only=True)
    # b is third among all four checkpoints, though second of the rows shown.
    assert _scored(spec) == [("a", 1, 1.0), ("b", 2, 3.0)]


def test_checkpoints_ranked_counts_the_training_rows_also_without_best_only():
    acc = _accuracy("arc")
    for training, step, value in [("a", 1000, 0.5), ("a", 2000, 0.9), ("b", 1000, 0.7)]:
        _record(_checkpoint(training, step), {acc: value})
    rows = RankedCheckpoint.objects.ranked(RankingSpec.of(acc))
    assert [(row.training.name, row.step, row.checkpoints_ranked) for row in rows] == [
        ("a", 2000, 2),
        ("b", 1000, 1),
        ("a", 1000, 2),
    ]


def test_out_of_how_many_counts_the_candidates_after_the_missing_value_policy():
    # a@1000 has only a metric no other candidate has: its win rate does not exist, so it is no row, but it is one
    # of the training's candidate checkpoints after the missing-value policy ("best of 2 checkpoints").
    acc, unique = _accuracy("arc"), _accuracy("mmlu")
    _record(_checkpoint("a", 1000), {unique: 0.5})
    _record(_checkpoint("a", 2000), {acc: 0.5})
    _record(_checkpoint("b", 1000), {acc: 0.75})
    spec = _spec([acc, unique], Method.WIN_RATE, missing=Missing.AVAILABLE, best_only=True)
    rows = RankedCheckpoint.objects.ranked(spec)
    assert [(row.training.name, row.step, row.rank, row.checkpoints_ranked) for row in rows] == [
        ("b", 1000, 1, 1),
        ("a", 2000, 2, 2),
    ]


def test_filters_choose_the_candidates_before_ranking_so_ranks_restart_at_1():
    acc = _accuracy("arc")
    _scores(acc, {"a": 0.9, "b": 0.8, "c": 0.7})
    assert _ranked(RankingSpec.of(acc), training__name__in=["b", "c"]) == [("b", 1), ("c", 2)]


def test_filters_choose_the_candidates_of_observed_quantities():
    acc = _metric("arc")
    _scores(acc, {"a": 1.0, "b": 0.75, "c": 0.25})
    # Without a: the best observed is b's 0.75.
    spec = _spec([acc], Method.NORMALISED_MEAN)
    assert _scored(spec, training__name__in=["b", "c"]) == [("b", 1, 100), ("c", 2, 0)]
    assert _scored(_spec([acc], Method.WIN_RATE), training__name__in=["b", "c"]) == [("b", 1, 1.0), ("c", 2, 0.0)]


@pytest.mark.parametrize("method", [Method.NORMALISED_MEAN, Method.MEAN_RANK, Method.WIN_RATE])
def test_filtering_the_candidates_recomputes_relative_scores_among_them(method):
    acc = _metric("arc")
    _scores(acc, {"a": 1.0, "b": 0.75, "c": 0.25})
    spec = _spec([acc], method)
    chosen = RankedCheckpoint.objects.filter(training__name__in=["b", "c"]).ranked(spec)
    expected = {Method.NORMALISED_MEAN: [100.0, 0.0], Method.MEAN_RANK: [1.0, 2.0], Method.WIN_RATE: [1.0, 0.0]}
    assert [(row.training.name, row.rank, row.score) for row in chosen] == [
        ("b", 1, expected[method][0]),
        ("c", 2, expected[method][1]),
    ]


def test_a_newer_evaluation_replaces_the_older_one_entirely():
    acc, acc_norm = _accuracy("arc"), _accuracy("arc", key="acc_norm")
    a, b = _checkpoint("a"), _checkpoint("b")
    _record(a, {acc: 0.9, acc_norm: 0.9})
    _record(b, {acc: 0.5, acc_norm: 0.5})
    _record(a, {acc: 0.2})  # the rerun reported acc only
    assert _scored(RankingSpec.of(acc)) == [("b", 1, 0.5), ("a", 2, 0.2)]
    assert _scored(_spec([acc, acc_norm], Method.MEAN)) == [("b", 1, 0.5)]


def test_the_latest_evaluation_is_the_latest_finished_not_the_latest_created():
    acc = _accuracy("arc")
    a = _checkpoint("a")
    _record(a, {acc: 0.9}, finished=datetime(2026, 3, 2, tzinfo=UTC))
    _record(a, {acc: 0.1}, finished=datetime(2026, 3, 1, tzinfo=UTC))
    assert _scored(RankingSpec.of(acc)) == [("a", 1, 0.9)]


def test_failed_evaluations_never_count():
    acc = _accuracy("arc")
    a, b = _checkpoint("a"), _checkpoint("b")
    _record(a, {acc: 0.5}, finished=datetime(2026, 3, 1, tzinfo=UTC))
    for checkpoint in (a, b):
        for status in (Evaluation.Status.FAILED, Evaluation.Status.CANCELLED, Evaluation.Status.RUNNING):
            evaluation = Evaluation.objects.create(
                checkpoint=checkpoint,
                benchmark=acc.benchmark,
                status=status,
                finished_at=datetime(2026, 3, 2, tzinfo=UTC),
            )
            Score.objects.create(evaluation=evaluation, metric=acc, value=1.0)
    assert _scored(RankingSpec.of(acc)) == [("a", 1, 0.5)]


def test_rows_carry_each_chosen_metric_value_and_stderr():
    acc, perplexity = _accuracy("arc"), _metric("wikitext", key="word_perplexity", higher=False)
    a = _checkpoint("a")
    record_result(a, acc.benchmark, {acc: ScoreValue(0.75, 0.01)}, source="api")
    record_result(a, perplexity.benchmark, {perplexity: ScoreValue(12.5)}, source="api")
    (row,) = RankedCheckpoint.objects.ranked(_spec([acc, perplexity], Method.NORMALISED_MEAN))
    assert (getattr(row, f"value_{acc.pk}"), getattr(row, f"stderr_{acc.pk}")) == (0.75, 0.01)
    assert (getattr(row, f"value_{perplexity.pk}"), getattr(row, f"stderr_{perplexity.pk}")) == (12.5, None)


@pytest.mark.parametrize("method", [Method.MEAN, Method.WEIGHTED_MEAN])
def test_mean_over_metrics_of_different_directions_is_refused(method):
    acc, perplexity = _accuracy("arc"), _metric("wikitext", key="word_perplexity", higher=False, lower=0.0, upper=1.0)
    with pytest.raises(RankingError, match="normalised mean"):
        RankedCheckpoint.objects.ranked(_spec([acc, perplexity], method))


@pytest.mark.parametrize("method", [Method.MEAN, Method.WEIGHTED_MEAN])
@pytest.mark.parametrize(
    ("first", "second"),
    [((0.0, 1.0), (0.0, 100.0)), ((0.0, 1.0), (None, 1.0)), ((None, None), (None, None)), ((0.0, None), (0.0, None))],
)
def test_mean_over_metrics_without_one_known_scale_is_refused(method, first, second):
    one = _metric("arc", lower=first[0], upper=first[1])
    other = _metric("mmlu", lower=second[0], upper=second[1])
    with pytest.raises(RankingError, match="normalised mean"):
        RankedCheckpoint.objects.ranked(_spec([one, other], method))


@pytest.mark.parametrize("method", [Method.MEAN, Method.WEIGHTED_MEAN])
def test_mean_of_one_metric_without_bounds_is_refused(method):
    # docs/rankings.md: the mean is "allowed only when all metrics share ... one known scale (identical, set lower
    # and upper bounds)"; a lone metric without bounds has no known scale.
    perplexity = _metric("wikitext", key="word_perplexity", higher=False)
    with pytest.raises(RankingError, match="normalised mean"):
        RankedCheckpoint.objects.ranked(_spec([perplexity], method))


@pytest.mark.parametrize("method", list(Method))
def test_a_metric_of_unknown_direction_is_refused(method):
    acc = _accuracy("arc")
    Metric.objects.filter(pk=acc.pk).update(direction=Metric.Direction.UNKNOWN)
    acc.refresh_from_db()
    _scores(acc, {"a": 0.5})
    with pytest.raises(RankingError, match="direction"):
        RankedCheckpoint.objects.ranked(_spec([acc], method))


def test_single_metric_ranking_of_two_metrics_is_refused():
    with pytest.raises(RankingError):
        RankedCheckpoint.objects.ranked(_spec([_accuracy("arc"), _accuracy("mmlu")], Method.METRIC))


def _many_results() -> list[Metric]:
    acc, error = _accuracy("arc"), _metric("mmlu", key="error", higher=False, lower=0.0, upper=1.0, baseline=0.75)
    perplexity = _metric("wikitext", key="word_perplexity", higher=False)
    for index in range(12):
        checkpoint = _checkpoint(f"run-{index % 4}", 1000 * (index // 4))
        _record(checkpoint, {acc: (index % 5) / 4})
        if index % 3:
            _record(checkpoint, {error: (index % 4) / 4})
        _record(checkpoint, {perplexity: 10.0 + index % 3})
    return [acc, error, perplexity]


@pytest.mark.parametrize("method", [m for m in Method if m not in (Method.METRIC, Method.MEAN, Method.WEIGHTED_MEAN)])
@pytest.mark.parametrize("best_only", [False, True])
@pytest.mark.parametrize("missing", list(Missing))
def test_every_ranking_is_one_query_also_counted_and_sliced(django_assert_num_queries, method, best_only, missing):
    metrics = _many_results()
    spec = _spec(metrics, method, [1.0, 2.0, 0.5], best_only=best_only, missing=missing, ties=Ties.DENSE)
    queryset = RankedCheckpoint.objects.filter(step__gte=0).ranked(spec)
    with django_assert_num_queries(1):
        rows = list(queryset.all())
    assert rows
    with django_assert_num_queries(1):
        assert queryset.all().count() == len(rows)
    with django_assert_num_queries(1):
        assert [row.pk for row in queryset.all()[0:10]] == [row.pk for row in rows[:10]]


@pytest.mark.parametrize(
    "spec_of",
    [
        lambda m: RankingSpec.of(m[0]),
        lambda m: _spec([m[0]], Method.MEAN),
        lambda m: _spec([m[0]], Method.WEIGHTED_MEAN),
    ],
)
def test_raw_value_rankings_are_one_query_also_counted_and_sliced(django_assert_num_queries, spec_of):
    spec = spec_of(_many_results())
    queryset = RankedCheckpoint.objects.ranked(spec)
    with django_assert_num_queries(1):
        rows = list(queryset.all())
    with django_assert_num_queries(1):
        assert queryset.all().count() == len(rows) == 12
    with django_assert_num_queries(1):
        assert len(queryset.all()[0:10]) == 10
