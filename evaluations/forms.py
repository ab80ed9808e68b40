"""Forms that ask for evaluations: a checkpoint on chosen benchmarks, or the missing cells of the coverage matrix."""

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, QuerySet, Value, When

from .models import Benchmark, Checkpoint

# A request names at most this many checkpoints or benchmarks: more than one page of the coverage matrix shows.
MAX_CHOSEN = 200


def by_category(benchmarks: QuerySet[Benchmark]) -> QuerySet[Benchmark]:
    """Ordered for grouping by category, uncategorised ones last."""
    uncategorised = Case(When(category="", then=Value(1)), default=Value(0), output_field=IntegerField())
    return benchmarks.order_by(uncategorised, "category", "name", "num_fewshot", "version", "pk")


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Refuses overlong lists before they reach the database."""

    def clean(self, value):
        if value and len(value) > MAX_CHOSEN:
            raise ValidationError(f"Choose at most {MAX_CHOSEN}.", code="too_many")
        return super().clean(value)


class CoverageRequestForm(forms.Form):
    """The missing cells of one page of the coverage matrix, or of one of its rows."""

    checkpoint = BoundedModelMultipleChoiceField(queryset=Checkpoint.objects.all())
    benchmark = BoundedModelMultipleChoiceField(
        queryset=Benchmark.objects.filter(is_active=True),
        error_messages={"invalid_choice": "%(value)s is not an active benchmark."},
    )
    row = forms.IntegerField(required=False)
    retry_failed = forms.BooleanField(required=False)

    def clean(self):
        cleaned = super().clean()
        row = cleaned.get("row")
        if row is not None and "checkpoint" in cleaned:
            chosen = [checkpoint for checkpoint in cleaned["checkpoint"] if checkpoint.pk == row]
            if not chosen:
                raise ValidationError("That row is not on the page.", code="unknown_row")
            cleaned["checkpoint"] = chosen
        return cleaned


class TrainingPickerForm(forms.Form):
    """The first step of choosing a checkpoint: its training (the checkpoint list then shows that training's steps,
    not all of the catalogue's hundreds of checkpoints). A GET form, so it works without JavaScript."""

    training = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": "There is no training %(value)s."},
    )

    def __init__(self, *args, checkpoints: dict[int, Checkpoint], **kwargs):
        super().__init__(*args, **kwargs)
        groups: dict[str, list[tuple[int, str]]] = {}
        counts: dict[int, int] = {}
        trainings = {}
        for checkpoint in checkpoints.values():  # ordered by model, training and step
            counts[checkpoint.training_id] = counts.get(checkpoint.training_id, 0) + 1
            trainings[checkpoint.training_id] = checkpoint.training
        for pk, training in trainings.items():
            noun = "checkpoint" if counts[pk] == 1 else "checkpoints"
            groups.setdefault(training.model.name, []).append((pk, f"{training.name} ({counts[pk]} {noun})"))
        self.trainings = trainings
        self.fields["training"].choices = [("", "Choose a training"), *groups.items()]

    def chosen(self):
        """The valid chosen training, or None."""
        return self.trainings.get(self.cleaned_data.get("training")) if self.is_valid() else None


class RequestEvaluationsForm(forms.Form):
    """One checkpoint, chosen among the steps of a training (see TrainingPickerForm), and active benchmarks grouped
    by category."""

    checkpoint = forms.TypedChoiceField(
        coerce=int, empty_value=None, error_messages={"invalid_choice": "There is no checkpoint %(value)s."}
    )
    benchmarks = forms.TypedMultipleChoiceField(
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choose at least one benchmark.",
            "invalid_choice": "%(value)s is not an active benchmark.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        checkpoints = Checkpoint.objects.select_related("training__model").order_by(
            "training__model__name", "training__name", "step", "pk"
        )
        self.checkpoints = {checkpoint.pk: checkpoint for checkpoint in checkpoints}
        self.benchmarks = {
            benchmark.pk: benchmark for benchmark in by_category(Benchmark.objects.filter(is_active=True))
        }
        self.fields["checkpoint"].choices = [("", "Choose a checkpoint"), *_grouped_checkpoints(self.checkpoints)]
        self.fields["benchmarks"].choices = _grouped_benchmarks(self.benchmarks)

    def show_steps_of(self, training) -> None:
        """List only `training`'s checkpoints, steps in order. Any checkpoint still validates (the field's choices
        stay whole): the list is what the page offers, not what the form accepts."""
        steps = [
            (pk, label) for pk, label in _labels(self.checkpoints) if self.checkpoints[pk].training_id == training.pk
        ]
        self.fields["checkpoint"].widget.choices = [("", "Choose a step"), *steps]

    def clean_checkpoint(self) -> Checkpoint:
        return self.checkpoints[self.cleaned_data["checkpoint"]]

    def clean_benchmarks(self) -> list[Benchmark]:
        return [self.benchmarks[pk] for pk in self.cleaned_data["benchmarks"]]

    def pairs(self) -> list[tuple[Checkpoint, Benchmark]]:
        checkpoint = self.cleaned_data["checkpoint"]
        return [(checkpoint, benchmark) for benchmark in self.cleaned_data["benchmarks"]]

    def chosen_checkpoint(self) -> Checkpoint | None:
        """The checkpoint the form shows as selected, valid or not yet validated."""
        raw = self["checkpoint"].value()
        try:
            return self.checkpoints.get(int(raw))
        except (TypeError, ValueError):
            return None

    def benchmark_groups(self, states: dict[int, str] | None = None) -> list[tuple[str, list]]:
        """(category, [(checkbox, state of the chosen checkpoint on that benchmark)]) for the template."""
        states = states or {}
        checkboxes = iter(self["benchmarks"])
        groups = []
        for category, options in self.fields["benchmarks"].choices:
            boxes = [next(checkboxes) for _ in options]
            groups.append((category, [(box, states.get(int(box.data["value"]))) for box in boxes]))
        return groups


def _labels(checkpoints: dict[int, Checkpoint]) -> list[tuple[int, str]]:
    # The whole name in each option: a closed select shows the option alone, without its group.
    return [
        (pk, f"{c.training.name} @ step {c.step:,}" + (f" ({c.label})" if c.label else ""))
        for pk, c in checkpoints.items()
    ]


def _grouped_checkpoints(checkpoints: dict[int, Checkpoint]) -> list[tuple[str, list[tuple[int, str]]]]:
    groups: dict[str, list[tuple[int, str]]] = {}
    for pk, label in _labels(checkpoints):
        training = checkpoints[pk].training
        groups.setdefault(f"{training.model.name} · {training.name}", []).append((pk, label))
    return list(groups.items())


def _grouped_benchmarks(benchmarks: dict[int, Benchmark]) -> list[tuple[str, list[tuple[int, str]]]]:
    groups: dict[str, list[tuple[int, str]]] = {}
    for benchmark in benchmarks.values():
        groups.setdefault(benchmark.category.capitalize() or "Uncategorised", []).append((benchmark.pk, str(benchmark)))
    return list(groups.items())
