"""How the evaluation data reads in the API."""

from rest_framework import serializers

from ..models import Benchmark, Checkpoint, Evaluation, Metric, ModelFamily, Score, Training


class ModelSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = ModelFamily
        fields = ["id", "name", "description", "tags", "parameter_count", "architecture", "license", "metadata"]
        fields += ["created_at"]


class TrainingSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)

    class Meta:
        model = Training
        fields = ["id", "model", "model_name", "name", "description", "config", "status", "started_at", "url"]
        fields += ["created_at"]


class CheckpointSerializer(serializers.ModelSerializer):
    training_name = serializers.CharField(source="training.name", read_only=True)
    model = serializers.IntegerField(source="training.model_id", read_only=True)
    model_name = serializers.CharField(source="training.model.name", read_only=True)

    class Meta:
        model = Checkpoint
        fields = ["id", "training", "training_name", "model", "model_name", "step", "label", "storage_uri"]
        fields += ["created_at"]


class MetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = Metric
        fields = ["id", "key", "name", "direction", "is_primary", "lower_bound", "upper_bound", "baseline", "decimals"]


class BenchmarkSerializer(serializers.ModelSerializer):
    metrics = MetricSerializer(many=True, read_only=True)

    class Meta:
        model = Benchmark
        fields = ["id", "slug", "num_fewshot", "version", "name", "description", "url", "category", "is_active"]
        fields += ["created_at", "metrics"]


class BenchmarkRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Benchmark
        fields = ["id", "slug", "num_fewshot", "version", "name"]


class ScoreSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="metric.key", read_only=True)

    class Meta:
        model = Score
        fields = ["metric", "key", "value", "stderr"]


class EvaluationSerializer(serializers.ModelSerializer):
    benchmark = BenchmarkRefSerializer(read_only=True)
    step = serializers.IntegerField(source="checkpoint.step", read_only=True)
    training = serializers.IntegerField(source="checkpoint.training_id", read_only=True)
    training_name = serializers.CharField(source="checkpoint.training.name", read_only=True)
    model = serializers.IntegerField(source="checkpoint.training.model_id", read_only=True)
    model_name = serializers.CharField(source="checkpoint.training.model.name", read_only=True)
    scores = ScoreSerializer(many=True, read_only=True)
    config = serializers.JSONField(read_only=True, help_text="How it was run, as a JSON object.")

    class Meta:
        model = Evaluation
        fields = ["id", "checkpoint", "step", "training", "training_name", "model", "model_name", "benchmark"]
        fields += ["status", "source", "harness", "harness_version", "config", "error", "fingerprint", "created_at"]
        fields += ["started_at", "finished_at", "attempts", "worker", "lease_expires_at", "scores"]
