"""What every API view shares: bounded and checked request bodies, page-number pagination with stable ordering,
and the refusal of text no database can store: NUL characters (PostgreSQL cannot store or compare them) and lone
surrogates (`"\\ud800"` in JSON: no UTF-8 encoding exists, so every driver fails on them), in any key or value."""

import math
import re

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db.models import F
from rest_framework import exceptions, filters, pagination, parsers

from .errors import RequestTooLarge

# JSON nested deeper than this is refused: nothing we accept needs more, and deep nesting costs recursion.
MAX_DEPTH = 64
SURROGATE = re.compile("[\ud800-\udfff]")


def check_size(parser_context: dict | None) -> None:
    request = (parser_context or {}).get("request")
    if request is None:
        return
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and length > limit:
        raise RequestTooLarge(f"The request body is larger than the limit of {limit} bytes.")


def check_values(data: object, path: tuple = ()) -> None:
    """Refuse, naming where: NUL characters and lone surrogates in any string or key, and nesting deeper than
    MAX_DEPTH (iteratively: no recursion). `path` is where `data` sits in the request, for the messages."""
    stack = [(data, path)]
    while stack:
        value, path = stack.pop()
        if len(path) >= MAX_DEPTH:
            raise exceptions.ParseError(f"The JSON is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(value, str):
            check_text(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    check_text(key, (*path, printable(key)))
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))


NON_FINITE = "Numbers must be finite: 1e400 reads as infinity, and NaN and Infinity are not JSON."


def check_finite(data: object, path: tuple = ()) -> None:
    """Refuse, naming where, a number that parsed as infinity (`1e400`): stored JSON cannot hold one (PostgreSQL
    refuses it, SQLite's JSON functions fail on it). For free-form JSON (configs, result files); scores are numbers
    already checked by their own field."""
    stack = [(data, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise field_error(where, NON_FINITE)
        if isinstance(value, dict):
            stack.extend((item, (*where, key)) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, (*where, index)) for index, item in enumerate(value))


def check_text(text: str, path: tuple) -> None:
    if "\x00" in text:
        raise field_error(path, "Text may not contain NUL (\\u0000) characters.")
    if found := SURROGATE.search(text):
        raise field_error(
            path, f"Text may not contain lone surrogates (U+{ord(found.group()):04X}): encode it as UTF-8."
        )


def printable(text: str) -> str:
    """`text` without the characters that make it unusable, to name it in a message that must itself be JSON."""
    return SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def field_error(path: tuple, message: str) -> exceptions.ValidationError:
    """A 400 naming the field (and the item, in a list body), like any other invalid value."""
    detail: list | dict = [message]
    for part in reversed(path):
        detail = {part: detail}
    return exceptions.ValidationError(detail)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the size limit, NaN/Infinity refused, and deep or NUL-bearing documents refused."""

    def parse(self, stream, media_type=None, parser_context=None):
        check_size(parser_context)
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(f"The JSON is nested more than {MAX_DEPTH} levels deep.") from None
        check_values(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        check_size(parser_context)
        try:
            result = super().parse(stream, media_type, parser_context)
        except SuspiciousOperation as error:  # too many fields or files
            raise exceptions.ParseError(str(error)) from None
        check_values({key: values[0] if len(values) == 1 else values for key, values in result.data.lists()})
        return result


def reject_nul_in_query(request) -> None:
    for key, values in request.query_params.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            raise exceptions.ValidationError({printable(key): ["NUL characters are not allowed."]})


class ApiMixin:
    """Base behaviour of every API view."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        reject_nul_in_query(request)


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=` and `?page_size=` (at most `max_page_size`; larger sizes are capped). A page size that is not a
    positive whole number is a 400, not silently the default."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or int(raw) < 1:
            raise exceptions.ValidationError({"page_size": ["The page size must be a whole number ≥ 1."]})
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = f"Results per page, at most {self.max_page_size} (larger is capped)."
        return parameters


class StableOrderingFilter(filters.OrderingFilter):
    """`?ordering=` over the view's whitelisted `ordering_fields` (anything else is a 400), NULLs last on both
    databases, the primary key breaking ties so that pages never overlap."""

    def filter_queryset(self, request, queryset, view):
        allowed = {f"{sign}{name}" for name in getattr(view, "ordering_fields", []) for sign in ("", "-")}
        asked = [term.strip() for term in request.query_params.get(self.ordering_param, "").split(",") if term.strip()]
        if unknown := [term for term in asked if term not in allowed]:
            raise exceptions.ValidationError(
                {self.ordering_param: [f"Cannot order by {unknown[0]!r}; choose from {', '.join(sorted(allowed))}."]}
            )
        ordering = asked or list(getattr(view, "ordering", []))
        names = [name.lstrip("-") for name in ordering]
        if "pk" not in names and "id" not in names:
            ordering = [*ordering, "pk"]
        expressions = [
            F(name[1:]).desc(nulls_last=True) if name.startswith("-") else F(name).asc(nulls_last=True)
            for name in ordering
        ]
        return queryset.order_by(*expressions)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        fields = getattr(view, "ordering_fields", [])
        for parameter in parameters:
            parameter["schema"] = {"type": "string", "enum": [f"{p}{f}" for f in fields for p in ("", "-")]}
            parameter["description"] = "Sort by this field (`-` for descending); ties are broken by id."
        return parameters
