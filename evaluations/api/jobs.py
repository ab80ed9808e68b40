"""The evaluation job queue over HTTP: request evaluations, and the worker's claim → heartbeat → complete | fail.

The rules live in `evaluations.queue`; here its exceptions become status codes: an unknown job is 404, a lease that
is not the caller's is 409, invalid scores are 400.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from .. import queue
from ..catalog import metric_specs
from ..models import Benchmark, Checkpoint, Evaluation
from ..requests import request_evaluations
from .errors import Conflict
from .ingest import catalog_for
from .payloads import (
    ClaimSerializer,
    CompletionSerializer,
    EvaluationRequestSerializer,
    FailureSerializer,
    LeaseSerializer,
)
from .permissions import CanAddEvaluations, CanRead, CanRunJobs
from .serializers import BenchmarkSerializer, CheckpointSerializer, EvaluationSerializer
from .views import EvaluationViewSet


class JobSerializer(serializers.ModelSerializer):
    """A claimed job: what to evaluate, and the lease that proves the worker holds it."""

    checkpoint = CheckpointSerializer(read_only=True)
    benchmark = BenchmarkSerializer(read_only=True)

    class Meta:
        model = Evaluation
        fields = [
            "id",
            "status",
            "lease_token",
            "lease_expires_at",
            "lease_seconds",
            "attempts",
            "worker",
            "checkpoint",
            "benchmark",
        ]


class LeaseStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Evaluation
        fields = ["id", "status", "lease_expires_at", "lease_seconds", "attempts", "worker"]


class RequestedSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="New pending evaluations.")
    existing = serializers.IntegerField(help_text="Benchmarks already pending or running for this checkpoint.")
    evaluations = EvaluationSerializer(many=True)


class CompletedSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="False when this completion had already been recorded.")
    evaluation = EvaluationSerializer()


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _lease_conflicts(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except Evaluation.DoesNotExist as error:
        raise NotFound(str(error)) from None
    except queue.LeaseError as error:
        raise Conflict(str(error)) from None


class EvaluationJobViewSet(EvaluationViewSet):
    """Evaluations, and the job queue of pending ones."""

    def get_permissions(self):
        if self.action == "create":
            return [CanAddEvaluations()]
        if self.action in ("claim", "heartbeat", "complete", "fail"):
            return [CanRunJobs()]
        return [CanRead()]

    @extend_schema(
        request=EvaluationRequestSerializer,
        responses={201: RequestedSerializer, 200: RequestedSerializer},
        description=(
            "Queue evaluations of a checkpoint on benchmarks: one pending job per benchmark, unless one is already "
            "pending or running (it is returned instead; 200 when nothing new). Needs evaluations.add_evaluation."
        ),
    )
    def create(self, request):
        data = _validated(EvaluationRequestSerializer, request.data)
        checkpoint = Checkpoint.objects.filter(pk=data["checkpoint"]).first()
        if checkpoint is None:
            raise ValidationError({"checkpoint": [f"No checkpoint {data['checkpoint']}."]})
        ids = list(dict.fromkeys(data["benchmarks"]))
        benchmarks = Benchmark.objects.in_bulk(ids)
        if missing := [pk for pk in ids if pk not in benchmarks]:
            raise ValidationError({"benchmarks": [f"No benchmark {', '.join(map(str, missing))}."]})
        pairs = [(checkpoint, benchmarks[pk]) for pk in ids]
        try:
            outcome = request_evaluations(pairs, user=request.user, source=Evaluation.Source.API)
        except IntegrityError:
            raise Conflict("Another request queued one of these evaluations at the same time: send it again.") from None
        jobs = self.get_queryset().filter(pk__in=[job.pk for job in outcome.created + outcome.already_open])
        created = len(outcome.created)
        body = {
            "created": created,
            "existing": len(outcome.already_open),
            "evaluations": self._data(jobs.order_by("pk"), many=True),
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        request=ClaimSerializer,
        responses={200: JobSerializer, 204: OpenApiResponse(description="No pending job matches.")},
        description=(
            "Take the oldest pending job (of these benchmarks and models, when given): it becomes running under a "
            "lease, returned with its token. Two workers never get the same job. Needs evaluations.change_evaluation."
        ),
    )
    def claim(self, request):
        data = _validated(ClaimSerializer, request.data)
        job = queue.claim(
            data["worker"],
            benchmarks=data["benchmark"],
            models=data["model"],
            lease_seconds=data.get("lease_seconds"),
        )
        if job is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        job = (
            Evaluation.objects.select_related("checkpoint__training__model", "benchmark")
            .prefetch_related("benchmark__metrics")
            .get(pk=job.pk)
        )
        return Response(JobSerializer(job, context=self.get_serializer_context()).data)

    @extend_schema(
        request=LeaseSerializer,
        responses={200: LeaseStateSerializer},
        description=(
            "Renew the lease of a job you hold (by its lease token) by the length the claim asked for, or by "
            "`lease_seconds` from now on; 409 if you do not hold it."
        ),
    )
    def heartbeat(self, request, pk: int):
        data = _validated(LeaseSerializer, request.data)
        job = _lease_conflicts(queue.heartbeat, pk, data["lease_token"], lease_seconds=data.get("lease_seconds"))
        return Response(LeaseStateSerializer(job).data)

    @extend_schema(
        request=CompletionSerializer,
        responses={200: CompletedSerializer},
        description=(
            "Post the scores of a job you hold: it becomes the succeeded evaluation, validated like posted results. "
            "Sending the same completion again changes nothing (`created` false); 409 if you do not hold the job."
        ),
    )
    def complete(self, request, pk: int):
        data = _validated(CompletionSerializer, request.data)
        with transaction.atomic():
            job = _lease_conflicts(queue.leased, pk, data["lease_token"])
            specs = metric_specs(data["metrics"], data["directions"])
            try:
                by_key = catalog_for(request.user).metrics(job.benchmark, specs, create=data["create_missing"])
            except LookupError as error:
                raise ValidationError({"metrics": [str(error)]}) from None
            scores = {by_key[key]: score for key, score in data["metrics"].items()}
            try:
                outcome = _lease_conflicts(
                    queue.complete,
                    pk,
                    data["lease_token"],
                    scores,
                    harness=data["harness"],
                    harness_version=data["harness_version"],
                    config=data["config"],
                    started_at=data["started_at"],
                    finished_at=data["finished_at"],
                )
            except DjangoValidationError as error:
                raise ValidationError({"metrics": error.messages}) from None
        evaluation = get_object_or_404(self.get_queryset(), pk=pk)
        return Response({"created": outcome.created, "evaluation": self._data(evaluation)})

    @extend_schema(
        request=FailureSerializer,
        responses={200: EvaluationSerializer},
        description="Record that a job you hold failed, with the error; 409 if you do not hold it.",
    )
    def fail(self, request, pk: int):
        data = _validated(FailureSerializer, request.data)
        _lease_conflicts(queue.fail, pk, data["lease_token"], data["error"])
        return Response(self._data(get_object_or_404(self.get_queryset(), pk=pk)))

    def _data(self, instance, many: bool = False):
        return EvaluationSerializer(instance, many=many, context=self.get_serializer_context()).data
