"""Saved leaderboards: their settings decide the rows, and changing them changes the ranking at once."""

import pytest
from django.contrib.auth.models import AnonymousUser, Permission

from evaluations.models import Tag
from evaluations.results import ScoreValue, record_result
from rankings.methods import Method, Missing
from rankings.models import Leaderboard, LeaderboardMetric
from tests import factories

pytestmark = pytest.mark.django_db


def board(*metrics, **fields) -> Leaderboard:
    fields.setdefault("slug", "board")
    leaderboard = Leaderboard.objects.create(name=fields["slug"].title(), **fields)
    for order, metric in enumerate(metrics):
        LeaderboardMetric.objects.create(leaderboard=leaderboard, metric=metric, order=order)
    return leaderboard


def result(training: str, step: int, values: dict, *, model: str = "m") -> None:
    checkpoint = factories.checkpoint(training=factories.training(name=training, model_name=model), step=step)
    by_benchmark: dict = {}
    for metric, value in values.items():
        by_benchmark.setdefault(metric.benchmark, {})[metric] = ScoreValue(value)
    for benchmark, scores in by_benchmark.items():
        record_result(checkpoint, benchmark, scores, source="api")


def listing(rows) -> list[tuple]:
    return [(row.training.name, row.step, row.rank) for row in rows.select_related("training")]


def test_a_best_only_leaderboard_shows_each_trainings_best_checkpoint_ranked():
    acc = factories.metric()
    for training, values in {"a": [0.2, 0.6, 0.5], "b": [0.3, 0.4, 0.7], "c": [0.1, 0.1, 0.1]}.items():
        for step, value in zip((0, 10, 20), values, strict=True):
            result(training, step, {acc: value})
    rows = board(acc, best_only=True).rows()
    assert listing(rows) == [("b", 20, 1), ("a", 10, 2), ("c", 0, 3)]
    assert [row.checkpoints_ranked for row in rows] == [3, 3, 3]


def test_changing_the_leaderboard_settings_changes_its_rows():
    acc = factories.metric()
    for step, value in [(0, 0.2), (10, 0.6)]:
        result("a", step, {acc: value})
    leaderboard = board(acc, best_only=True)
    assert len(leaderboard.rows()) == 1
    leaderboard.best_only = False
    leaderboard.save()
    assert listing(Leaderboard.objects.get(pk=leaderboard.pk).rows()) == [("a", 10, 1), ("a", 0, 2)]


def test_filters_on_models_trainings_and_tags_choose_the_candidates_before_ranking():
    acc = factories.metric()
    result("big-run", 0, {acc: 0.9}, model="big")
    result("small-run", 0, {acc: 0.5}, model="small")
    result("small-run-2", 0, {acc: 0.4}, model="small")
    only_small = board(acc, slug="small")
    only_small.filter_models.add(factories.model(name="small"))
    assert listing(only_small.rows()) == [("small-run", 0, 1), ("small-run-2", 0, 2)]

    tagged = board(acc, slug="tagged")
    tag = Tag.objects.create(name="distilled")
    factories.model(name="big").tags.add(tag)
    tagged.filter_tags.add(tag)
    assert listing(tagged.rows()) == [("big-run", 0, 1)]

    one_training = board(acc, slug="one")
    one_training.filter_trainings.add(factories.training(name="small-run-2", model_name="small"))
    assert listing(one_training.rows()) == [("small-run-2", 0, 1)]


def test_a_new_result_shows_up_immediately():
    acc = factories.metric()
    result("a", 0, {acc: 0.5})
    leaderboard = board(acc)
    assert listing(leaderboard.rows()) == [("a", 0, 1)]
    result("b", 0, {acc: 0.8})
    assert listing(leaderboard.rows()) == [("b", 0, 1), ("a", 0, 2)]


def test_weights_from_the_leaderboard_are_used():
    first = factories.metric(key="first", lower_bound=0, upper_bound=1)
    second = factories.metric(key="second", lower_bound=0, upper_bound=1)
    result("a", 0, {first: 1.0, second: 0.0})
    result("b", 0, {first: 0.0, second: 0.9})
    leaderboard = board(first, second, method=Method.WEIGHTED_MEAN, best_only=False)
    assert listing(leaderboard.rows()) == [("a", 0, 1), ("b", 0, 2)]
    LeaderboardMetric.objects.filter(metric=second).update(weight=3)
    rows = list(leaderboard.rows())
    assert [(row.training.name, round(row.score, 6)) for row in rows] == [("b", 0.675), ("a", 0.25)]


def test_private_leaderboards_are_visible_only_to_staff_and_permitted_users(django_user_model):
    board(slug="public")
    board(slug="private", is_public=False)
    anonymous = AnonymousUser()
    member = django_user_model.objects.create_user("member")
    insider = django_user_model.objects.create_user("insider")
    insider.user_permissions.add(Permission.objects.get(codename="view_private_leaderboard"))
    staff = django_user_model.objects.create_user("staff", is_staff=True)

    def visible(user) -> list[str]:
        return list(Leaderboard.objects.visible_to(user).values_list("slug", flat=True))

    assert visible(anonymous) == visible(member) == ["public"]
    assert sorted(visible(insider)) == sorted(visible(staff)) == ["private", "public"]


def test_the_spec_of_a_leaderboard_can_be_overridden_for_one_view():
    acc = factories.metric()
    leaderboard = board(acc, best_only=True, missing=Missing.WORST)
    spec = leaderboard.spec(best_only=False)
    assert (spec.best_only, spec.missing, [w.metric for w in spec.metrics]) == (False, Missing.WORST, [acc])


def test_a_leaderboard_ranks_in_one_query(django_assert_num_queries):
    acc = factories.metric()
    ppl = factories.metric(key="ppl", higher_is_better=False)
    for training in "abcdef":
        for step in (0, 10):
            result(training, step, {acc: 0.5, ppl: 3.0})
    leaderboard = board(acc, ppl, method=Method.NORMALISED_MEAN)
    leaderboard = Leaderboard.objects.prefetch_related(
        "entries__metric", "filter_models", "filter_trainings", "filter_tags"
    ).get(pk=leaderboard.pk)
    with django_assert_num_queries(1):
        rows = list(leaderboard.rows().select_related("training__model"))
    assert len(rows) == 6
