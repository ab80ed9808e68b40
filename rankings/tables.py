"""The leaderboard table: fixed columns, one column per ranked metric, formatting in one place."""

import django_tables2 as tables
from django.db.models import F
from django.utils.html import format_html

from evaluations.models import Metric

from .methods import Method, RankingSpec

ARROWS = {Metric.Direction.HIGHER: "↑", Metric.Direction.LOWER: "↓"}


def _tie_breakers(queryset, *first):
    return queryset.order_by(*first, "rank", "training__name", "step", "pk"), True


class MetricColumn(tables.Column):
    """A metric's value with its stderr; the best value of the column is marked."""

    def __init__(self, metric: Metric, **kwargs):
        self.metric = metric
        super().__init__(
            accessor=f"value_{metric.pk}",
            verbose_name=f"{metric.benchmark.name} {metric.label} {ARROWS.get(metric.direction, '')}",
            attrs={"td": {"class": self.cell_class}, "th": {"class": "num", "title": metric.get_direction_display()}},
            **kwargs,
        )

    def cell_class(self, record) -> str:
        best = getattr(record, f"best_{self.metric.pk}", None)
        value = getattr(record, f"value_{self.metric.pk}", None)
        return "num best" if value is not None and value == best else "num"

    def render(self, value, record):
        stderr = getattr(record, f"stderr_{self.metric.pk}", None)
        text = f"{value:.{self.metric.decimals}f}"
        if stderr is None:
            return text
        return format_html('{} <span class="stderr">± {}</span>', text, f"{stderr:.{self.metric.decimals}f}")

    def value(self, value, record):
        return value

    def order(self, queryset, is_descending: bool):
        field = F(f"value_{self.metric.pk}")
        return _tie_breakers(queryset, field.desc(nulls_last=True) if is_descending else field.asc(nulls_last=True))


class LeaderboardTable(tables.Table):
    compare = tables.CheckBoxColumn(accessor="pk", verbose_name="Compare", orderable=False, exclude_from_export=True)
    rank = tables.Column(attrs={"td": {"class": "num rank"}, "th": {"class": "num"}})
    model = tables.Column(accessor="training__model__name", verbose_name="Model")
    training = tables.Column(
        accessor="training__name", verbose_name="Training", linkify=lambda record: record.training.get_absolute_url()
    )
    step = tables.Column(attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    score = tables.Column(attrs={"td": {"class": "num score"}, "th": {"class": "num"}})
    coverage = tables.Column(attrs={"td": {"class": "num"}, "th": {"class": "num"}})

    class Meta:
        attrs = {"class": "table leaderboard"}
        order_by = ("rank",)
        empty_text = "No checkpoint has the results this ranking needs. Try another metric or missing-value policy."
        template_name = "rankings/table.html"

    def __init__(self, data, *, spec: RankingSpec, **kwargs):
        self.spec = spec
        extra = [(f"metric_{w.metric.pk}", MetricColumn(w.metric)) for w in spec.metrics]
        super().__init__(data, extra_columns=extra, **kwargs)
        self.columns["score"].column.verbose_name = score_label(spec)
        if spec.method == Method.METRIC:
            self.columns.hide("score")
            self.columns.hide("coverage")

    def render_compare(self, value, record):
        return format_html(
            '<input type="checkbox" name="checkpoint" value="{}" form="compare-form" aria-label="Compare {} step {}">',
            value,
            record.training.name,
            record.step,
        )

    def render_step(self, value, record):
        link = format_html('<a href="{}">{}</a>', record.get_absolute_url(), f"{value:,}")
        if self.spec.best_only:
            return format_html('{} <span class="note">best of {}</span>', link, record.checkpoints_ranked)
        return link

    def value_step(self, value, record):
        return value

    def render_score(self, value):
        return f"{value:.{3 if self.spec.method in (Method.MEAN_RANK, Method.WIN_RATE) else 2}f}"

    def render_coverage(self, value):
        return f"{value}/{len(self.spec.metrics)}"

    def value_coverage(self, value):
        return f"{value}/{len(self.spec.metrics)}"

    def order_rank(self, queryset, is_descending: bool):
        return _tie_breakers(queryset, F("rank").desc() if is_descending else F("rank").asc())

    def order_score(self, queryset, is_descending: bool):
        return _tie_breakers(queryset, F("score").desc() if is_descending else F("score").asc())

    def order_coverage(self, queryset, is_descending: bool):
        return _tie_breakers(queryset, F("coverage").desc() if is_descending else F("coverage").asc())

    def order_step(self, queryset, is_descending: bool):
        return _tie_breakers(queryset, F("step").desc() if is_descending else F("step").asc())

    def order_model(self, queryset, is_descending: bool):
        field = F("training__model__name")
        return _tie_breakers(queryset, field.desc() if is_descending else field.asc())

    def order_training(self, queryset, is_descending: bool):
        field = F("training__name")
        return _tie_breakers(queryset, field.desc() if is_descending else field.asc())


def score_label(spec: RankingSpec) -> str:
    return {
        Method.METRIC: "Score",
        Method.MEAN: "Mean",
        Method.WEIGHTED_MEAN: "Weighted mean",
        Method.NORMALISED_MEAN: "Normalised mean (0–100)",
        Method.MEAN_RANK: "Mean rank ↓",
        Method.WIN_RATE: "Mean win rate",
    }[spec.method]
