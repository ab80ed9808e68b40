"""The leaderboard table: fixed columns, one column per ranked metric, formatting in one place."""

import django_tables2 as tables
from django.db.models import F
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from evaluations.formatting import decimals_for, format_number
from evaluations.labels import titled
from evaluations.models import Metric

from .methods import Method, RankingSpec

EMPTY = "—"  # what django-tables2 shows for a missing value
ARROWS = {Metric.Direction.HIGHER: "↑", Metric.Direction.LOWER: "↓"}


def _tie_breakers(queryset, *first):
    return queryset.order_by(*first, "rank", "training__name", "step", "pk"), True


class MetricColumn(tables.Column):
    """A metric's value with its stderr; the best value of the column is marked.

    `is_score`: the metric is what the rows are ranked by (the single-metric method), kept in view as the score.
    """

    def __init__(self, metric: Metric, *, is_score: bool = False, **kwargs):
        self.metric = metric
        self.decimals = metric.decimals  # the table sets the digits its page needs (`LeaderboardTable.digits`)
        self.base_class = "num score" if is_score else "num"
        super().__init__(
            accessor=f"value_{metric.pk}",
            verbose_name=f"{metric.title} {ARROWS.get(metric.direction, '')}".rstrip(),
            attrs={
                "td": {"class": self.cell_class},
                "th": {"class": self.base_class, "title": metric.get_direction_display()},
            },
            **kwargs,
        )

    def cell_class(self, record) -> str:
        best = getattr(record, f"best_{self.metric.pk}", None)
        value = getattr(record, f"value_{self.metric.pk}", None)
        return f"{self.base_class} best" if value is not None and value == best else self.base_class

    shows_stderr = True  # the table's column chooser may turn the ± parts off

    def render(self, value, record):
        stderr = getattr(record, f"stderr_{self.metric.pk}", None) if self.shows_stderr else None
        text = format_number(value, self.decimals)
        if stderr is None:
            return text
        return format_html('{} <span class="stderr">± {}</span>', text, format_number(stderr, self.decimals))

    def value(self, value, record):
        return value

    def order(self, queryset, is_descending: bool):
        # django-tables2's first click asks for ascending order: for a metric that must show the best first, so
        # "ascending" means better-first here (highest first when higher is better), and the second click worst-first.
        field = F(f"value_{self.metric.pk}")
        if self.metric.direction == Metric.Direction.HIGHER:
            is_descending = not is_descending
        return _tie_breakers(queryset, field.desc(nulls_last=True) if is_descending else field.asc(nulls_last=True))


class CompareColumn(tables.CheckBoxColumn):
    """The rows' compare boxes. The header's select-all box is `hidden` until static/js/select-all.js, which makes it
    work, shows it: without JavaScript the header is the word alone, not a box that does nothing."""

    @property
    def header(self):
        return mark_safe(  # noqa: S308 (a constant)
            'Compare <input type="checkbox" class="select-all" data-selects="checkpoint" hidden '
            'aria-label="Select every row of this page for comparison">'
        )


class LeaderboardTable(tables.Table):
    compare = CompareColumn(accessor="pk", orderable=False, exclude_from_export=True)
    pin = tables.Column(accessor="pk", verbose_name="Pin", orderable=False, exclude_from_export=True)
    rank = tables.Column(attrs={"td": {"class": "num rank"}, "th": {"class": "num rank"}})
    model = tables.Column(accessor="training__model__name", verbose_name="Model")
    training = tables.Column(
        accessor="training__name",
        verbose_name="Training",
        linkify=lambda record: record.training.get_absolute_url(),
        attrs={"th": {"class": "name"}},
    )
    step = tables.Column(attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    score = tables.Column(attrs={"td": {"class": "num score"}, "th": {"class": "num score"}})
    coverage = tables.Column(attrs={"td": {"class": "num"}, "th": {"class": "num"}})

    class Meta:
        attrs = {"class": "table leaderboard"}
        order_by = ("rank",)
        empty_text = "No checkpoint has the results this ranking needs. Try another metric or missing-value policy."
        template_name = "rankings/leaderboard_table.html"

    def __init__(
        self,
        data,
        *,
        spec: RankingSpec,
        on_screen: bool = False,
        hidden: frozenset[str] = frozenset(),
        pinned=(),
        **kwargs,
    ):
        """`on_screen`: in the page's column order (screen_sequence), not the exports'; `hidden`: optional columns not
        to render (TableForm.hidden); `pinned`: rows shown above the others, as `RankingQuerySet.rows_of` gives them,
        with their ranks among all the rows."""
        self.spec = spec
        self.pinned = list(pinned)
        self.pinned_ids = {record.pk for record in self.pinned}
        self._rendering_pinned = False
        single = spec.method == Method.METRIC
        metrics = titled(w.metric for w in spec.metrics)
        extra = [(f"metric_{metric.pk}", MetricColumn(metric, is_score=single)) for metric in metrics]
        if on_screen:
            kwargs.setdefault("sequence", screen_sequence(spec))
        super().__init__(data, extra_columns=extra, **kwargs)
        self.columns["score"].column.verbose_name = score_label(spec)
        if spec.method == Method.METRIC:
            self.columns.hide("score")
            self.columns.hide("coverage")
        for name in hidden - {"stderr"}:
            if name in self.columns.columns:
                self.columns.hide(name)
        for _, column in extra:
            column.shows_stderr = "stderr" not in hidden

    def html_rows(self) -> list[SafeString]:
        """The rows of the current page as HTML, with the columns' own renderers and classes.

        django-tables2 renders every cell through a template and several layers of lookups, about 0.1 ms a cell; a
        leaderboard page has hundreds of cells, which cost several times the ranking query. Building the rows here
        keeps the page within a few milliseconds of its query.
        """
        return self._html(self._records())

    def html_pinned_rows(self) -> list[SafeString]:
        """The pinned rows, as html_rows renders the others."""
        return self._html(self.pinned, pinned=True)

    def _html(self, records, *, pinned: bool = False) -> list[SafeString]:
        # The digits are the page's (pinned rows show theirs alike, so a pinned and a listed value read the same).
        digits = self.digits
        for column in self.columns:
            if isinstance(column.column, MetricColumn):
                column.column.decimals = digits[f"value_{column.column.metric.pk}"]
        cells = [self._cell(column.name) for column in self.columns]
        self._rendering_pinned = pinned  # read by render_pin while the rows below are built
        return [
            format_html(
                '<tr class="{}">{}</tr>',
                ("odd" if number % 2 else "even") + (" pinned" if pinned or record.pk in self.pinned_ids else ""),
                format_html_join("", '<td class="{}">{}</td>', (cell(record) for cell in cells)),
            )
            for number, record in enumerate(records)
        ]

    def _records(self) -> list:
        rows = self.page.object_list if getattr(self, "page", None) else self.rows
        return [row.record for row in rows]

    @cached_property
    def digits(self) -> dict[str, int]:
        """Decimals of each number column (by accessor), enough to tell apart the values this page shows."""
        return page_decimals(self._records(), self.spec)

    def _cell(self, name: str):
        """A function of a record giving the (class, content) of this column's cell."""
        fixed = {
            "compare": lambda record: ("", self.render_compare(record.pk, record)),
            "pin": lambda record: ("pin", self.render_pin(record.pk, record)),
            "rank": lambda record: ("num rank", record.rank),
            "model": lambda record: ("", record.training.model.name),
            # The full name in a tooltip: a narrow screen wraps it within its kept-in-view column.
            "training": lambda record: (
                "name",
                format_html(
                    '<a href="{}" title="{}">{}</a>',
                    record.training.get_absolute_url(),
                    record.training.name,
                    record.training.name,
                ),
            ),
            "step": lambda record: ("num", self.render_step(record.step, record)),
            "score": lambda record: ("num score", EMPTY if record.score is None else self.render_score(record.score)),
            "coverage": lambda record: ("num", self.render_coverage(record.coverage)),
        }
        if name in fixed:
            return fixed[name]
        column: MetricColumn = self.columns[name].column

        def metric_cell(record):
            value = getattr(record, f"value_{column.metric.pk}", None)
            return column.cell_class(record), EMPTY if value is None else column.render(value, record)

        return metric_cell

    def render_compare(self, value, record):
        return format_html(
            '<input type="checkbox" name="checkpoint" value="{}" form="compare-form" aria-label="Compare {} step {}">',
            value,
            record.training.name,
            record.step,
        )

    def render_pin(self, value, record):
        # Part of the ranking form (form="ranking-controls"), so Apply sends it without JavaScript. A pinned row also
        # on the current page shows a ticked but disabled box there: only the pinned copy above is sent.
        if record.pk in self.pinned_ids and not self._rendering_pinned:
            return mark_safe('<input type="checkbox" checked disabled title="Pinned above" aria-label="Pinned above">')
        return format_html(
            '<input type="checkbox" name="pin" value="{}" form="ranking-controls" class="pin-toggle"{} '
            'aria-label="Pin {} step {}">',
            value,
            " checked" if record.pk in self.pinned_ids else "",
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
        return format_number(value, self.digits["score"])

    def render_coverage(self, value):
        return f"{value}/{len(self.spec.metrics)}"

    def value_coverage(self, value):
        return f"{value}/{len(self.spec.metrics)}"

    def order_rank(self, queryset, is_descending: bool):
        return _tie_breakers(queryset, F("rank").desc() if is_descending else F("rank").asc())

    def order_score(self, queryset, is_descending: bool):
        # As for a metric column: the first click (django-tables2's "ascending") shows the best score first, which is
        # the highest except for mean rank.
        if self.spec.higher_is_better:
            is_descending = not is_descending
        field = F("score")
        return _tie_breakers(queryset, field.desc(nulls_last=True) if is_descending else field.asc(nulls_last=True))

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


def screen_sequence(spec: RankingSpec) -> tuple[str, ...]:
    """The page's column order: rank, name and score first, so that they can stay in view (sticky) while the rest of
    a wide table scrolls sideways, and a phone shows a score without scrolling; the compare and pin boxes follow. A
    single metric is the score.

    Exports keep the declared order (rank, model, training, step, ...), which their readers rely on.
    """
    score = f"metric_{spec.metrics[0].metric.pk}" if spec.method == Method.METRIC and spec.metrics else "score"
    return ("rank", "training", score, "compare", "pin", "step", "model", "...")


def score_decimals(spec: RankingSpec) -> int:
    """The fewest decimals a score shows: a (weighted) mean is on its metrics' scale, so it takes their decimals."""
    if spec.method in (Method.METRIC, Method.MEAN, Method.WEIGHTED_MEAN):
        return spec.metrics[0].metric.decimals
    return 2 if spec.method == Method.NORMALISED_MEAN else 3


def page_decimals(records, spec: RankingSpec) -> dict[str, int]:
    """Decimals of the score and of each metric's values (keyed `score`, `value_<metric id>`) for a page of ranked
    rows: the table, the home page's card of the same rows and the Markdown export all show these digits."""
    records = list(records)
    digits = {"score": decimals_for((r.score for r in records), score_decimals(spec))}
    for weighted in spec.metrics:
        key = f"value_{weighted.metric.pk}"
        digits[key] = decimals_for((getattr(r, key, None) for r in records), weighted.metric.decimals)
    return digits


def score_label(spec: RankingSpec, *, arrow: bool = True) -> str:
    """The score column's name; mean rank, the one score where lower wins, says so with an arrow unless `arrow` is
    false (exports name columns plainly and give directions in their settings)."""
    label = {
        Method.METRIC: "Score",
        Method.MEAN: "Mean",
        Method.WEIGHTED_MEAN: "Weighted mean",
        Method.NORMALISED_MEAN: "Normalised mean (0–100)",
        Method.MEAN_RANK: "Mean rank",
        Method.WIN_RATE: "Mean win rate",
    }[spec.method]
    return f"{label} ↓" if arrow and spec.method == Method.MEAN_RANK else label
