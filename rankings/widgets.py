"""Form widgets for pickers with thousands of options."""

from collections.abc import Callable, Iterable

from django import forms
from django.core.cache import cache
from django.forms.utils import flatatt
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

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


class CheckboxPicker(forms.CheckboxSelectMultiple):
    """Checkboxes in groups, the chosen ones first, built in Python for the same reason as QuickSelectMultiple.

    A native `<select multiple>` needs Ctrl-click to choose a second option (issue 11, defect 16). Without JavaScript
    this is a plain list of checkboxes; static/js/picker.js adds the filter box (type to hide what does not match).
    `choices` are (value, label) pairs, or (group, [(value, label), ...]) pairs for grouped options; a label may
    carry a `details` part after a tab, shown muted (few-shot count, version).
    """

    def __init__(self, attrs=None, choices=(), *, noun: str = "option"):
        super().__init__(attrs, choices)
        self.noun = noun

    def render(self, name, value, attrs=None, renderer=None):
        chosen = set(self.format_value(value))
        groups = [
            (group, options) if isinstance(options, list | tuple) else ("", [(group, options)])
            for group, options in self.choices
        ]
        # Consecutive flat options form one unnamed group.
        merged: list[tuple[str, list]] = []
        for group, options in groups:
            if merged and not group and not merged[-1][0]:
                merged[-1][1].extend(options)
            else:
                merged.append((group, list(options)))
        first = [(key, label) for _, options in merged for key, label in options if str(key) in chosen]
        rest = [(group, [(k, lab) for k, lab in options if str(k) not in chosen]) for group, options in merged]
        shown = [("Chosen", first)] if first else []
        shown += [(group, options) for group, options in rest if options]
        attrs = self.build_attrs(self.attrs, attrs)
        html_id = attrs.pop("id", f"id_{name}")
        body = format_html_join("", "{}", ((self._group(name, group, options, chosen),) for group, options in shown))
        total = sum(len(options) for _, options in merged)
        return format_html(
            '<div class="picker" id="{}" data-picker{}>'
            '<p class="picker__count muted">{} of {} {}s chosen</p>'
            '<input type="search" class="picker__filter" data-picker-filter hidden placeholder="Type to filter" '
            'aria-label="Filter the {}s" aria-controls="{}-options">'
            '<div class="picker__options" id="{}-options">{}</div>'
            '<p class="picker__none muted" hidden>No {} matches.</p></div>',
            html_id,
            flatatt(attrs),
            len(first),
            total,
            self.noun,
            self.noun,
            html_id,
            html_id,
            body,
            self.noun,
        )

    @staticmethod
    def _group(name, group, options, chosen) -> SafeString:
        # Plain string building with escape(): format_html per option took 70 µs, a third of a 400-metric page.
        name = escape(name)
        boxes = "".join(
            f'<label class="picker__option"><input type="checkbox" name="{name}" value="{escape(key)}"'
            f"{' checked' if str(key) in chosen else ''}> <span>{_label(label)}</span></label>"
            for key, label in options
        )
        if not group:
            return mark_safe(f'<div class="picker__group">{boxes}</div>')  # noqa: S308 (escaped above)
        return mark_safe(f'<fieldset class="picker__group"><legend>{escape(group)}</legend>{boxes}</fieldset>')  # noqa: S308

    def id_for_label(self, id_, index=None):
        return id_  # the picker as a whole, not its first checkbox

    def value_omitted_from_data(self, data, files, name):
        return False  # as CheckboxSelectMultiple: no box ticked is an answer


def _label(label: str) -> str:
    text, _, details = str(label).partition("\t")
    return f'{escape(text)} <span class="muted">{escape(details)}</span>' if details else str(escape(text))


def cached_choices(name: str, options: Callable[[], Iterable[tuple]]) -> list[tuple[str, str]]:
    """The (value, label) `options()` of a picker over models, trainings, tags or metrics, kept in the cache until
    any of those is saved or deleted (the names stamp of evaluations.versions).

    Listing 2,000 trainings means loading 2,000 rows as model instances on every page; the labels only change when
    the names do.
    """
    return cached_names(name, lambda: [(str(value), str(label)) for value, label in options()])


def cached_names(name: str, make: Callable[[], object]):
    """What `make()` builds from names (options, labels), cached as `cached_choices` says: one stamp query."""
    stamp = versions.stamps([versions.NAMES])[versions.NAMES]
    key = f"choices:{name}:{stamp}"
    value = cache.get(key)
    if value is None:
        value = make()
        cache.set(key, value, timeout=CHOICES_SECONDS)
    return value
