"""Form widgets for pickers with thousands of options."""

from collections.abc import Callable, Iterable

from django import forms
from django.core.cache import cache
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join

from evaluations import versions

# Cached options are dropped when the names change; this only bounds how long unused ones stay in memory.
CHOICES_SECONDS = 3600


class QuickSelectMultiple(forms.SelectMultiple):
    """A `<select multiple>` whose options are built in Python.

    Django renders every option through its own template, about 25 µs each: with a few thousand trainings that alone
    took longer than ranking them. The markup is the same as Django's for flat (ungrouped) choices.
    """

    def render(self, name, value, attrs=None, renderer=None):
        chosen = set(self.format_value(value))
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((key, " selected" if str(key) in chosen else "", label) for key, label in self.choices),
        )
        return format_html(
            '<select name="{}"{} multiple>{}</select>', name, flatatt(self.build_attrs(self.attrs, attrs)), options
        )


def cached_choices(name: str, options: Callable[[], Iterable[tuple]]) -> list[tuple[str, str]]:
    """The (value, label) `options()` of a picker over models, trainings, tags or metrics, kept in the cache until
    any of those is saved or deleted (the names stamp of evaluations.versions).

    Listing 2,000 trainings means loading 2,000 rows as model instances on every page; the labels only change when
    the names do.
    """
    stamp = versions.stamps([versions.NAMES])[versions.NAMES]
    key = f"choices:{name}:{stamp}"
    choices = cache.get(key)
    if choices is None:
        choices = [(str(value), str(label)) for value, label in options()]
        cache.set(key, choices, timeout=CHOICES_SECONDS)
    return choices
