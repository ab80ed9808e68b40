"""What clients send: results, job completions and uploads, checked strictly (wrong types, unknown fields, NaN and
infinities, negative stderr and steps are refused with a message naming the field)."""

import math

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Metric
from ..queue import MAX_LEASE_SECONDS
from ..results import ScoreValue, validate_score
from .framework import check_finite

MAX_METRICS = 500
BIGINT_MAX = 2**63 - 1
SMALLINT_MAX = 32767
DIRECTIONS = Metric.Direction.values

SCORE_SCHEMA = {
    "oneOf": [
        {"type": "number", "description": "The value."},
        {
            "type": "object",
            "properties": {
                "value": {"type": "number"},
                "stderr": {"type": "number", "minimum": 0, "nullable": True},
            },
            "required": ["value"],
            "additionalProperties": False,
        },
    ]
}


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know instead of ignoring them."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": [f"Expected an object, got {_kind(data)}."]})
        unknown = {key: ["Unknown field."] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({**unknown, **error.detail}) from None
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(f"Expected text, got {_kind(data)}.")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError(f"Expected a whole number, got {_kind(data)}.")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            raise serializers.ValidationError(f"Expected true or false, got {_kind(data)}.")
        return data


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectField(serializers.JSONField):
    """Any JSON object (a config)."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(f"Expected an object, got {_kind(data)}.")
        check_finite(data)
        return data


@extend_schema_field(
    {
        "type": "object",
        "minProperties": 1,
        "maxProperties": MAX_METRICS,
        "additionalProperties": SCORE_SCHEMA,
        "description": 'Metric key → value, or → {"value": v, "stderr": s}; keys as the harness reports them.',
    }
)
class MetricsField(serializers.Field):
    """`{key: value}` or `{key: {"value": v, "stderr": s}}` → `{key: ScoreValue}`."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(f"Expected an object of metric values, got {_kind(data)}.")
        if not data:
            raise serializers.ValidationError("At least one metric is needed.")
        if len(data) > MAX_METRICS:
            raise serializers.ValidationError(f"At most {MAX_METRICS} metrics per result.")
        scores, errors = {}, {}
        for key, raw in data.items():
            try:
                scores[_metric_key(key)] = _score(key, raw)
            except serializers.ValidationError as error:
                errors[key] = error.detail
        if errors:
            raise serializers.ValidationError(errors)
        return scores

    def to_representation(self, value):
        return {key: {"value": score.value, "stderr": score.stderr} for key, score in value.items()}


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


def _metric_key(key: str) -> str:
    if not key or len(key) > 200:
        raise serializers.ValidationError("A metric key has 1 to 200 characters.")
    return key


def _number(raw: object, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise serializers.ValidationError(f"The {what} must be a number, got {_kind(raw)}.")
    try:
        value = float(raw)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise serializers.ValidationError(f"The {what} must be a finite number, got {raw!r:.40}.")
    return value


def _score(key: str, raw: object) -> ScoreValue:
    if isinstance(raw, dict):
        unknown = sorted(set(raw) - {"value", "stderr"})
        if unknown:
            raise serializers.ValidationError(f"Unknown field {unknown[0]!r}: a score has `value` and `stderr`.")
        if "value" not in raw:
            raise serializers.ValidationError("A score object needs a `value`.")
        stderr = raw.get("stderr")
        score = ScoreValue(_number(raw["value"], "value"), None if stderr is None else _number(stderr, "stderr"))
    else:
        score = ScoreValue(_number(raw, "value"))
    try:
        validate_score(key, score)  # the write path's own rules, e.g. a stderr below zero
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from None
    return score


class BenchmarkIdentitySerializer(StrictSerializer):
    slug = StrictCharField(max_length=200, help_text="The harness task name, e.g. 'arc_easy'.")
    num_fewshot = StrictIntegerField(min_value=0, max_value=SMALLINT_MAX, default=0)
    version = StrictCharField(max_length=50, allow_blank=True, default="", trim_whitespace=False)


class RunDetailsSerializer(StrictSerializer):
    """How a result was obtained: shared by posted results and completed jobs."""

    metrics = MetricsField()
    harness = StrictCharField(max_length=100, allow_blank=True, default="", help_text="e.g. 'lm-evaluation-harness'.")
    harness_version = StrictCharField(max_length=50, allow_blank=True, default="")
    config = ObjectField(default=dict, help_text="How it was run, as a JSON object.")
    started_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    finished_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    create_missing = StrictBooleanField(
        default=False,
        help_text="Create the benchmark and metrics if unknown; needs evaluations.add_benchmark / add_metric.",
    )
    directions = serializers.DictField(
        child=serializers.ChoiceField(choices=DIRECTIONS),
        required=False,
        default=dict,
        help_text="Directions of metrics created by create_missing; else known ones, else 'unknown'.",
    )

    def validate(self, data):
        started, finished = data.get("started_at"), data.get("finished_at")
        if started and finished and started > finished:
            raise serializers.ValidationError({"finished_at": ["Finished before it started."]})
        if stray := sorted(set(data.get("directions", {})) - set(data["metrics"])):
            raise serializers.ValidationError({"directions": [f"{stray[0]!r} is not one of the posted metrics."]})
        return data


class ResultSerializer(RunDetailsSerializer):
    model = StrictCharField(max_length=200, help_text="The model's name, created on first sight.")
    training = StrictCharField(max_length=200, help_text="The training's name, created on first sight.")
    step = StrictIntegerField(min_value=0, max_value=BIGINT_MAX, help_text="The checkpoint's training step.")
    benchmark = BenchmarkIdentitySerializer()


class CompletionSerializer(RunDetailsSerializer):
    lease_token = serializers.UUIDField(help_text="The token the claim returned.")


class LeaseSerializer(StrictSerializer):
    lease_token = serializers.UUIDField(help_text="The token the claim returned.")
    lease_seconds = StrictIntegerField(
        min_value=10,
        max_value=MAX_LEASE_SECONDS,
        required=False,
        help_text="A new lease length, kept for later heartbeats (default: the length the claim asked for).",
    )


class FailureSerializer(StrictSerializer):
    lease_token = serializers.UUIDField(help_text="The token the claim returned.")
    error = StrictCharField(max_length=20000, help_text="What went wrong, for a person to read.")


class ClaimSerializer(StrictSerializer):
    worker = StrictCharField(max_length=200, help_text="Who is claiming, e.g. 'gpu-3'.")
    benchmark = serializers.ListField(child=StrictIntegerField(min_value=1, max_value=BIGINT_MAX), default=list)
    model = serializers.ListField(child=StrictIntegerField(min_value=1, max_value=BIGINT_MAX), default=list)
    lease_seconds = StrictIntegerField(
        min_value=10,
        max_value=MAX_LEASE_SECONDS,
        required=False,
        help_text="How long the lease lasts; each heartbeat renews it by as much (default: the server's).",
    )


class EvaluationRequestSerializer(StrictSerializer):
    checkpoint = StrictIntegerField(min_value=1, max_value=BIGINT_MAX)
    benchmarks = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=BIGINT_MAX), min_length=1, max_length=200
    )
