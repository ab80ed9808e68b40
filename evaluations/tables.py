"""The job queue as a table: formatting and sorting in one place."""

import django_tables2 as tables
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.timezone import localtime

from .models import Evaluation

ERROR_PREVIEW = 60
MAX_PER_PAGE = 500


class BoundedPaginator(Paginator):
    """Pages of 1 to MAX_PER_PAGE rows: django-tables2 passes any `?per_page=` through, and a negative one is a 500.

    For every table paginated from the query string: `RequestConfig(request, paginate={..., "paginator_class":
    BoundedPaginator})`.
    """

    def __init__(self, object_list, per_page, *args, **kwargs):
        super().__init__(object_list, min(max(int(per_page), 1), MAX_PER_PAGE), *args, **kwargs)


def _ordered(queryset: QuerySet, is_descending: bool, *fields: str) -> tuple[QuerySet, bool]:
    """Sort by `fields` (empty values last either way), newest job first among equals."""
    order = [F(field).desc(nulls_last=True) if is_descending else F(field).asc(nulls_last=True) for field in fields]
    return queryset.order_by(*order, "-created_at", "-pk"), True


class TimeColumn(tables.Column):
    def render(self, value):
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), f"{localtime(value):%Y-%m-%d %H:%M}")


class QueueTable(tables.Table):
    checkpoint = tables.Column(linkify=True, attrs={"td": {"class": "wrap sticky"}, "th": {"class": "sticky"}})
    benchmark = tables.Column(linkify=True, attrs={"td": {"class": "wrap"}})
    status = tables.Column()
    requested_by = tables.Column(verbose_name="Requested by")
    created_at = TimeColumn(verbose_name="Created")
    started_at = TimeColumn(verbose_name="Started")
    finished_at = TimeColumn(verbose_name="Finished")
    attempts = tables.Column(attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    worker = tables.Column()
    lease_expires_at = TimeColumn(verbose_name="Lease until")
    error = tables.Column(orderable=False, attrs={"td": {"class": "wrap"}})
    actions = tables.Column(accessor="pk", verbose_name="Actions", orderable=False)

    class Meta:
        attrs = {"class": "queue"}
        row_attrs = {"id": lambda record: f"evaluation-{record.pk}"}
        order_by = ("-created_at",)
        default = "–"
        empty_text = "No evaluations match these filters."
        template_name = "rankings/table.html"

    def render_status(self, value, record):
        return format_html('<span class="status status--{}">{}</span>', record.status, value)

    def render_requested_by(self, value):
        return value.get_username()

    def render_error(self, value):
        # A traceback's last line says what went wrong: it is the preview, the whole text is one click away.
        preview = Truncator((value.strip().splitlines() or [value])[-1]).chars(ERROR_PREVIEW)
        if preview == value:
            return format_html('<span class="error-text">{}</span>', value)
        return format_html('<details class="error-text"><summary>{}</summary><pre>{}</pre></details>', preview, value)

    def render_actions(self, value, record):
        if record.status != Evaluation.Status.PENDING:
            return ""
        return format_html(
            '<button type="submit" class="link-button" form="cancel-form" formaction="{}" '
            'aria-label="Cancel {} on {}">Cancel</button>',
            reverse("evaluations:cancel", args=[value]),
            record.benchmark,
            record.checkpoint,
        )

    def order_created_at(self, queryset, is_descending: bool):
        return _ordered(queryset, is_descending, "created_at")

    def order_started_at(self, queryset, is_descending: bool):
        return _ordered(queryset, is_descending, "started_at")

    def order_finished_at(self, queryset, is_descending: bool):
        return _ordered(queryset, is_descending, "finished_at")

    def order_lease_expires_at(self, queryset, is_descending: bool):
        return _ordered(queryset, is_descending, "lease_expires_at")

    def order_checkpoint(self, queryset, is_descending: bool):
        return _ordered(queryset, is_descending, "checkpoint__training__name", "checkpoint__step")

    def order_benchmark(self, queryset, is_descending: bool):
        return _ordered(queryset, is_descending, "benchmark__name", "benchmark__num_fewshot")

    def order_status(self, queryset, is_descending: bool):
        return _ordered(queryset, is_descending, "status")

    def order_requested_by(self, queryset, is_descending: bool):
        return _ordered(queryset, is_descending, "requested_by__username")

    def order_attempts(self, queryset, is_descending: bool):
        return _ordered(queryset, is_descending, "attempts")

    def order_worker(self, queryset, is_descending: bool):
        return _ordered(queryset, is_descending, "worker")
