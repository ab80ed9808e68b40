"""Results in: `POST /results/` (one result or a list, all or nothing) and `POST /imports/lm-eval/` (result files
through the same importer as `manage.py import_lm_eval`)."""

import json
import logging

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from ..importers import FileOutcome, Importer, Overrides
from .errors import Conflict
from .framework import ApiMixin, JSONParser, MultiPartParser, check_finite, check_values
from .ingest import Submission, SubmissionErrors, catalog_for, record_submissions
from .payloads import BIGINT_MAX, ResultSerializer, StrictCharField, StrictIntegerField, StrictSerializer
from .permissions import CanAddEvaluations

logger = logging.getLogger(__name__)


class RecordedSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the result in the request.")
    evaluation = serializers.IntegerField(help_text="The evaluation holding these values.")
    checkpoint = serializers.IntegerField()
    benchmark = serializers.IntegerField()
    created = serializers.BooleanField(help_text="False when the same values were already recorded.")
    previous_evaluation = serializers.IntegerField(
        allow_null=True, help_text="The latest earlier evaluation of this checkpoint and benchmark, with other values."
    )


class ResultsResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    results = RecordedSerializer(many=True)


RESULTS_REQUEST = PolymorphicProxySerializer(
    component_name="ResultOrResults",
    serializers=[ResultSerializer, ResultSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)


def _validated_items(data, serializer_class, *, limit: int, what: str) -> list[dict]:
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ValidationError([f"No {what}: send an object or a non-empty list."])
    if len(items) > limit:
        raise ValidationError([f"At most {limit} {what} per request, got {len(items)}: split the batch."])
    validated, errors = [], {}
    # One serializer checks every item, as ListSerializer does with its child: a new one per item would copy its
    # fields each time, which was a third of the time of a large batch.
    checker = serializer_class()
    for index, item in enumerate(items):
        try:
            validated.append(checker.run_validation(item))
        except ValidationError as error:
            errors[index] = error.detail
    if errors:
        raise ValidationError(errors)
    return validated


class ResultsView(ApiMixin, APIView):
    permission_classes = [CanAddEvaluations]

    @extend_schema(
        operation_id="results_create",
        request=RESULTS_REQUEST,
        responses={201: ResultsResponseSerializer, 200: ResultsResponseSerializer},
        description=(
            "Record one result or a list of them, all or nothing. Model, training and checkpoint are created on "
            "first sight; the benchmark (slug, few-shot count, version) and its metrics must exist unless "
            "`create_missing` is true and the token may create them. Values already recorded change nothing "
            "(200); new values are a new evaluation (201), `previous_evaluation` naming the one before. "
            "Needs evaluations.add_evaluation."
        ),
    )
    def post(self, request):
        limit = settings.API_MAX_RESULTS_PER_REQUEST
        items = _validated_items(request.data, ResultSerializer, limit=limit, what="results")
        submissions = [Submission(**item) for item in items]
        try:
            recorded = record_submissions(submissions, user=request.user)
        except SubmissionErrors as error:
            raise ValidationError(error.errors) from None
        except DataError:
            # What validation missed; the database's own message names SQL and values, so it stays in the log.
            logger.exception("The database refused a posted result")
            raise ValidationError(["The database refused a value of the request."]) from None
        except IntegrityError:
            raise Conflict("Another request wrote the same rows at the same time: send it again.") from None
        rows = [
            {
                "index": index,
                "evaluation": outcome.evaluation.pk,
                "checkpoint": outcome.evaluation.checkpoint_id,
                "benchmark": outcome.evaluation.benchmark_id,
                "created": outcome.created,
                "previous_evaluation": outcome.previous,
            }
            for index, outcome in enumerate(recorded)
        ]
        created = sum(row["created"] for row in rows)
        body = {"created": created, "unchanged": len(rows) - created, "results": rows}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class OverridesSerializer(StrictSerializer):
    model = StrictCharField(max_length=200, required=False, help_text="Use this model name instead of the file's.")
    training = StrictCharField(max_length=200, required=False, help_text="Use this training name (and its model).")
    step = StrictIntegerField(min_value=0, max_value=BIGINT_MAX, required=False, help_text="The checkpoint's step.")


class ResultFileSerializer(StrictSerializer):
    name = StrictCharField(max_length=500, help_text="The file's name, for messages and provenance.")
    content = serializers.JSONField(help_text="The lm-evaluation-harness result document.")


class JsonImportSerializer(OverridesSerializer):
    files = ResultFileSerializer(many=True, allow_empty=False)


class MultipartImportSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)
    model = serializers.CharField(max_length=200, required=False)
    training = serializers.CharField(max_length=200, required=False)
    step = serializers.IntegerField(min_value=0, max_value=BIGINT_MAX, required=False)


class FileOutcomeSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.CharField()
    created = serializers.IntegerField(help_text="Evaluations recorded.")
    unchanged = serializers.IntegerField(help_text="Results already recorded with the same values.")
    checkpoint = serializers.IntegerField()


class ImportResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    files = FileOutcomeSerializer(many=True)


class LmEvalImportView(ApiMixin, APIView):
    permission_classes = [CanAddEvaluations]
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        operation_id="imports_lm_eval_create",
        request={"application/json": JsonImportSerializer, "multipart/form-data": MultipartImportSerializer},
        responses={201: ImportResponseSerializer, 200: ImportResponseSerializer},
        description=(
            "Import lm-evaluation-harness result files (0.3 or 0.4) as `manage.py import_lm_eval` does: the same "
            "inference of model, training, step and benchmarks, the same overrides, the same idempotency. All or "
            "nothing: if any file is refused, nothing is kept and `errors` says why, by file index. "
            "Needs evaluations.add_evaluation; a file naming new benchmarks or metrics also needs "
            "evaluations.add_benchmark / evaluations.add_metric."
        ),
    )
    def post(self, request):
        multipart = request.content_type.startswith("multipart/")
        limit = settings.API_MAX_FILES_PER_UPLOAD
        # Counted before any file is validated or parsed.
        if multipart:
            sent = request.data.getlist("files")
        else:
            sent = request.data.get("files") if isinstance(request.data, dict) else None
        if isinstance(sent, list) and len(sent) > limit:
            raise ValidationError({"files": [f"At most {limit} files per upload, got {len(sent)}: split the upload."]})
        serializer = (MultipartImportSerializer if multipart else JsonImportSerializer)(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        documents = _checked_documents(data["files"], multipart=multipart)
        overrides = Overrides(model=data.get("model"), training=data.get("training"), step=data.get("step"))
        # The same rule as /results/: a token that may not create benchmarks or metrics cannot bring new ones.
        importer = Importer(overrides, catalog=catalog_for(request.user))
        outcomes = []
        with transaction.atomic():
            for name, document, unreadable in documents:
                if unreadable:
                    outcomes.append(FileOutcome(name, error=unreadable))
                else:
                    outcomes.append(importer.import_document(document, origin=name))
            if failed := {i: {"files": [f"{o.origin}: {o.error}"]} for i, o in enumerate(outcomes) if not o.ok}:
                transaction.set_rollback(True)
        if failed:
            raise ValidationError(failed)
        files = [
            {
                "index": i,
                "name": o.origin,
                "created": o.created,
                "unchanged": o.unchanged,
                "checkpoint": o.checkpoint.pk,
            }
            for i, o in enumerate(outcomes)
        ]
        created = sum(o.created for o in outcomes)
        body = {"created": created, "unchanged": sum(o.unchanged for o in outcomes), "files": files}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _checked_documents(files: list, *, multipart: bool) -> list[tuple[str, object, str]]:
    """Each file's name, parsed document and why it is not JSON (reported with the other files' errors). The request
    is refused before anything is written when a file holds text no database can store or more tasks than the
    limits allow: the import of 100,000 tasks in one request held its transaction for minutes."""
    per_file, per_upload = settings.API_MAX_TASKS_PER_FILE, settings.API_MAX_TASKS_PER_UPLOAD
    documents, total = [], 0
    for index, upload in enumerate(files):
        if multipart:
            name = (upload.name or "upload.json").replace("\x00", "")
            try:
                document = json.loads(upload.read())
            except (ValueError, RecursionError) as error:
                documents.append((name, None, f"not valid JSON: {error}."))
                continue
            # A JSON body was checked by its parser; an uploaded file is JSON only from here on.
            check_values(document, ("files", index, "content"))
        else:
            name, document = upload["name"], upload["content"]
        check_finite(document, ("files", index, "content"))
        tasks = document.get("results") if isinstance(document, dict) else None
        count = len(tasks) if isinstance(tasks, dict) else 0
        if count > per_file:
            message = f"{name}: {count} tasks, more than the limit of {per_file} per file: split it."
            raise ValidationError({index: {"files": [message]}})
        total += count
        if total > per_upload:
            message = f"More than the limit of {per_upload} tasks per upload (file {name} reaches {total}): split it."
            raise ValidationError({index: {"files": [message]}})
        documents.append((name, document, ""))
    return documents
