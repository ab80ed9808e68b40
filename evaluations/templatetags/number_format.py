"""`{{ value|number:decimals }}`: the site's one formatting rule for numbers (evaluations.formatting) in templates."""

from django import template

from evaluations.formatting import format_number

register = template.Library()


@register.filter
def number(value, decimals=3) -> str:
    try:
        return format_number(None if value in (None, "") else float(value), int(decimals))
    except (TypeError, ValueError):
        return ""
