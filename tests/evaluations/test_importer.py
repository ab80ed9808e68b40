"""The lm-evaluation-harness importer on the real Pythia files (0.3) and on hand-made 0.4 files."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from evaluations.importers import InvalidResultFile, Overrides, import_document, import_paths, ingest, parse_document
from evaluations.importers.lm_eval import model_name, step_from_revision, training_name
from evaluations.models import Benchmark, Checkpoint, Evaluation, Metric, ModelFamily, Score, Training
from tests import datasets, factories

pytestmark = pytest.mark.django_db

DATASET = datasets.pythia()
DATA = Path(__file__).resolve().parent / "data"
V04 = DATA / "lm_eval_04" / "pythia-160m-deduped_step3000.json"
V04_FINAL = DATA / "lm_eval_04" / "results_2024-06-01T10-00-00.json"
FINAL_160M = DATASET / "pythia-160m" / "zero-shot" / "160m_step143000.json"
FIRST_160M = DATASET / "pythia-160m" / "zero-shot" / "160m_step0.json"
BF16_NAMED_5SHOT = DATASET / "pythia-1b-bf16" / "zero-shot" / "1b-bf16-5shot_step1000.json"
HIGHER, LOWER, UNKNOWN = Metric.Direction.HIGHER, Metric.Direction.LOWER, Metric.Direction.UNKNOWN


def score(training: str, step: int, task: str, key: str) -> Score:
    return Score.objects.get(
        evaluation__checkpoint__training__name=training,
        evaluation__checkpoint__step=step,
        evaluation__benchmark__slug=task,
        metric__key=key,
    )


def metrics_in(paths: list[Path]) -> int:
    rows = [row for path in paths for row in json.loads(path.read_text())["results"].values()]
    return sum(not key.endswith("_stderr") for row in rows for key in row)


@pytest.mark.slow
def test_the_whole_dataset_imports_every_training_checkpoint_and_score_once():
    files = sorted(DATASET.glob("*/zero-shot/*.json"))
    assert len(files) == 432

    summary = import_paths([DATASET])

    assert (summary.files, summary.created, summary.unchanged, summary.failed) == (432, 432 * 87, 0, [])
    assert Training.objects.count() == 16
    assert ModelFamily.objects.count() == 8  # plain and deduplicated runs are two trainings of one model
    steps = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 3000} | set(range(13000, 143001, 10000))
    for training in Training.objects.all():
        assert set(training.checkpoints.values_list("step", flat=True)) == steps, training.name
    assert Benchmark.objects.count() == 87
    assert Evaluation.objects.count() == 432 * 87
    assert Score.objects.count() == metrics_in(files)
    assert not Score.objects.filter(stderr__isnull=True).exists()

    again = import_paths([DATASET])

    assert (again.created, again.unchanged, again.failed) == (0, 432 * 87, [])
    assert (Evaluation.objects.count(), Score.objects.count(), Checkpoint.objects.count()) == (432 * 87, 74304, 432)


def test_values_and_stderrs_are_the_files_own():
    import_paths([FINAL_160M, BF16_NAMED_5SHOT])

    ppl = score("pythia-v1.1-160m", 143000, "lambada_openai", "ppl")
    assert (ppl.value, ppl.stderr) == (38.064877017771195, 1.4363799633211518)
    acc = score("pythia-v1.1-1b-bf16", 1000, "arc_easy", "acc")
    assert (acc.value, acc.stderr) == (0.31102693602693604, 0.00949879063975762)


def test_model_training_and_step_come_from_model_args():
    import_paths([FINAL_160M, BF16_NAMED_5SHOT])

    assert set(Checkpoint.objects.values_list("training__model__name", "training__name", "step")) == {
        ("pythia-v1.1-160m", "pythia-v1.1-160m", 143000),
        ("pythia-v1.1-1b", "pythia-v1.1-1b-bf16", 1000),
    }


def test_directions_come_from_the_table_of_known_metrics():
    import_paths([FINAL_160M])

    assert set(Metric.objects.values_list("key", "direction")) == {
        ("acc", HIGHER),
        ("acc_norm", HIGHER),
        ("ppl", LOWER),
        ("likelihood_difference", LOWER),
        ("pct_stereotype", UNKNOWN),
    }


def test_each_new_benchmark_gets_one_primary_metric_preferring_known_directions_and_plain_accuracy():
    import_paths([FINAL_160M])

    primaries = dict(Metric.objects.filter(is_primary=True).values_list("benchmark__slug", "key"))
    assert len(primaries) == Benchmark.objects.count() == 87
    assert primaries["arc_challenge"] == "acc"
    assert primaries["lambada_openai"] == "acc"
    assert primaries["crows_pairs_english"] == "likelihood_difference"


def test_known_tasks_get_a_category_and_a_chance_baseline():
    import_paths([FINAL_160M])

    assert Benchmark.objects.get(slug="hendrycksTest-anatomy").category == "knowledge"
    assert Benchmark.objects.get(slug="crows_pairs_french_age").category == "bias"
    assert Benchmark.objects.get(slug="lambada_openai").category == "language modeling"
    assert Benchmark.objects.get(slug="winogrande").category == "reasoning"
    baselines = dict(Metric.objects.filter(key="acc").values_list("benchmark__slug", "baseline"))
    assert (baselines["piqa"], baselines["arc_easy"], baselines["hendrycksTest-virology"]) == (0.5, 0.25, 0.25)
    assert baselines["lambada_openai"] is None


def test_the_bf16_files_named_5shot_are_zero_shot_as_their_config_says():
    import_paths([BF16_NAMED_5SHOT])

    assert set(Evaluation.objects.values_list("benchmark__num_fewshot", flat=True)) == {0}


def test_evaluations_record_the_harness_the_config_and_the_file():
    import_paths([FINAL_160M])

    evaluation = Evaluation.objects.get(benchmark__slug="piqa")
    assert (evaluation.source, evaluation.harness, evaluation.harness_version) == (
        "import",
        "lm-evaluation-harness",
        "",
    )
    assert evaluation.benchmark.version == "0"
    assert evaluation.config["model_args"] == "pretrained=EleutherAI/pythia-v1.1-160m,revision=step143000"
    assert evaluation.config["imported_from"] == str(FINAL_160M)


def test_importing_the_same_files_again_changes_nothing():
    first = import_paths([FINAL_160M, FIRST_160M])
    counts = [model.objects.count() for model in (Checkpoint, Benchmark, Metric, Evaluation, Score)]

    again = import_paths([FINAL_160M, FIRST_160M])

    assert (first.created, first.unchanged) == (2 * 87, 0)
    assert (again.created, again.unchanged) == (0, 2 * 87)
    assert [model.objects.count() for model in (Checkpoint, Benchmark, Metric, Evaluation, Score)] == counts


def test_a_changed_value_is_a_new_evaluation_and_the_old_one_is_kept(tmp_path):
    import_paths([FINAL_160M])
    document = json.loads(FINAL_160M.read_text())
    document["results"]["piqa"]["acc"] = 0.75
    rerun = tmp_path / "rerun.json"
    rerun.write_text(json.dumps(document))

    summary = import_paths([rerun])

    assert (summary.created, summary.unchanged) == (1, 86)
    history = Evaluation.objects.filter(benchmark__slug="piqa").order_by("pk")
    assert [evaluation.scores.get(metric__key="acc").value for evaluation in history] == [0.6273122959738846, 0.75]


def test_a_04_file_imports_filters_groups_shots_and_versions():
    outcome = import_paths([V04]).outcomes[0]

    assert (outcome.ok, outcome.created) == (True, 9)
    keys = set(Metric.objects.values_list("benchmark__slug", "benchmark__num_fewshot", "benchmark__version", "key"))
    assert keys == {
        ("arc_easy", 0, "1.0", "acc"),
        ("arc_easy", 0, "1.0", "acc_norm"),
        ("gsm8k", 5, "3.0", "exact_match,strict-match"),
        ("gsm8k", 5, "3.0", "exact_match,flexible-extract"),
        ("lambada_openai", 0, "1.0", "perplexity"),
        ("lambada_openai", 0, "1.0", "acc"),
        ("crows_pairs_english", 0, "1.0", "likelihood_difference"),
        ("crows_pairs_english", 0, "1.0", "pct_stereotype"),
        ("custom_probe", 0, "2", "toxicity"),
        ("custom_probe", 0, "2", "word_overlap"),
        ("mmlu", 0, "", "acc"),
        ("mmlu_humanities", 0, "", "acc"),
        ("mmlu_formal_logic", 0, "0.0", "acc"),
        ("ai2_arc", 0, "", "acc"),  # a group found only under `groups`
    }
    assert Benchmark.objects.get(slug="mmlu_humanities").name == "mmlu_humanities"
    assert not Benchmark.objects.filter(slug="mmlu_stem").exists()  # a group row without metrics


def test_a_04_file_says_na_for_a_missing_stderr():
    import_paths([V04])

    assert score("pythia-160m-deduped", 3000, "gsm8k", "exact_match,flexible-extract").stderr is None
    assert score("pythia-160m-deduped", 3000, "mmlu", "acc").stderr is None
    assert score("pythia-160m-deduped", 3000, "arc_easy", "acc").stderr == 0.010179856486006902


def test_a_04_files_higher_is_better_sets_directions_except_for_pct_stereotype():
    import_paths([V04])

    directions = dict(
        Metric.objects.filter(benchmark__slug__in=["custom_probe", "crows_pairs_english"]).values_list(
            "key", "direction"
        )
    )
    assert directions == {
        "toxicity": LOWER,  # declared by the file
        "word_overlap": UNKNOWN,  # neither declared nor known: left for an admin
        "likelihood_difference": LOWER,
        "pct_stereotype": UNKNOWN,  # ideally 0.5: the file's `false` cannot say so
    }
    assert Metric.objects.get(benchmark__slug="lambada_openai", key="perplexity").direction == LOWER


def test_a_04_file_gives_dict_model_args_date_version_and_a_trimmed_task_config():
    import_paths([V04])

    checkpoint = Checkpoint.objects.get()
    assert (checkpoint.training.model.name, checkpoint.training.name, checkpoint.step) == (
        "pythia-160m",
        "pythia-160m-deduped",
        3000,
    )
    evaluation = Evaluation.objects.get(benchmark__slug="arc_easy")
    assert evaluation.harness_version == "0.4.3"
    assert evaluation.started_at == datetime(2024, 5, 29, 16, 26, 40, 500000, tzinfo=UTC)
    assert (evaluation.finished_at - evaluation.started_at).total_seconds() == 1234.5
    assert evaluation.config["task_config"]["dataset_name"] == "ARC-Easy"
    assert "doc_to_text" not in evaluation.config["task_config"]
    assert evaluation.config["n_samples"] == {"original": 2376, "effective": 2376}
    assert evaluation.config["git_hash"] == "4600d6b"


def test_a_file_without_revision_is_the_final_checkpoint_of_its_training():
    outcome = import_paths([V04_FINAL]).outcomes[0]

    assert (outcome.checkpoint.training.name, outcome.checkpoint.step, outcome.checkpoint.label) == (
        "pythia-410m-deduped",
        0,
        "final",
    )
    assert outcome.checkpoint.training.model.name == "pythia-410m"


def test_the_final_checkpoint_is_the_highest_known_step_and_stays_so():
    training = factories.training(name="pythia-410m-deduped", model_name="pythia-410m")
    factories.checkpoint(training=training, step=1000)
    highest = factories.checkpoint(training=training, step=143000)

    first = import_paths([V04_FINAL]).outcomes[0]
    factories.checkpoint(training=training, step=150000)
    later = import_paths([V04_FINAL]).outcomes[0]

    assert first.checkpoint == later.checkpoint == highest
    highest.refresh_from_db()
    assert highest.label == "final"


@pytest.mark.parametrize(
    ("source", "training", "model"),
    [
        ("EleutherAI/pythia-v1.1-1.4b-deduped", "pythia-v1.1-1.4b-deduped", "pythia-v1.1-1.4b"),
        ("EleutherAI/pythia-v1.1-1b-bf16", "pythia-v1.1-1b-bf16", "pythia-v1.1-1b"),
        ("/checkpoints/my-run-fp16/", "my-run-fp16", "my-run"),
        ("org/model-deduped-bf16", "model-deduped-bf16", "model"),
        ("gpt2", "gpt2", "gpt2"),
    ],
)
def test_training_is_the_last_path_component_and_model_drops_variant_suffixes(source, training, model):
    assert (training_name(source), model_name(training_name(source))) == (training, model)


@pytest.mark.parametrize(
    ("revision", "step"),
    [("step1000", 1000), ("step-20", 20), ("step_3", 3), ("global_step500", 500), ("global_step_7", 7)]
    + [(None, None), ("", None), ("main", None)],
)
def test_steps_are_read_from_revisions(revision, step):
    assert step_from_revision(revision) == step


def test_a_revision_naming_no_step_needs_the_step_given():
    document = {"results": {"piqa": {"acc": 0.5}}, "config": {"model_args": "pretrained=a/b,revision=4f2e1c9"}}

    with pytest.raises(InvalidResultFile, match="names no training step"):
        parse_document(document, origin="x.json")
    assert parse_document(document, origin="x.json", overrides=Overrides(step=12)).step == 12


def test_without_model_args_or_model_name_the_file_names_the_training():
    document = {"results": {"piqa": {"acc": 0.5}}}

    assert parse_document(document, origin="runs/my-model/results_2024-06-01.json").training == "my-model"
    assert parse_document(document, origin="upload/run-7.json").training == "run-7"


def test_overrides_win_and_an_overridden_training_names_the_model():
    document = json.loads(FINAL_160M.read_text())

    parsed = parse_document(document, origin="x.json", overrides=Overrides(training="mine-deduped"))
    assert (parsed.model, parsed.training, parsed.step) == ("mine", "mine-deduped", 143000)
    parsed = parse_document(document, origin="x.json", overrides=Overrides(model="m", training="t", step=5))
    assert (parsed.model, parsed.training, parsed.step) == ("m", "t", 5)


BAD_FILES = {
    "bad_json.json": "not valid JSON",
    "no_results.json": "no `results`",
    "nan_value.json": "arc_easy: acc must be a finite number, got nan",
    "infinite_value.json": "lambada_openai: ppl must be a finite number, got inf",
    "negative_stderr.json": "acc_stderr is a standard error and cannot be negative",
    "unknown_layout.json": "unknown layout",
    "string_value.json": "arc_easy: acc must be a number, got '0.5'",
    "task_not_an_object.json": "arc_easy: expected an object of metrics, got a list",
}


def test_bad_files_are_reported_with_their_reason_and_the_good_ones_imported():
    summary = import_paths([FINAL_160M, DATA / "bad"])

    reasons = {Path(outcome.origin).name: outcome.error for outcome in summary.failed}
    assert reasons.keys() == BAD_FILES.keys()
    for name, reason in reasons.items():
        assert BAD_FILES[name] in reason, (name, reason)
    assert (summary.files, summary.created) == (1 + len(BAD_FILES), 87)
    assert list(ModelFamily.objects.values_list("name", flat=True)) == ["pythia-v1.1-160m"]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([{"results": {}}], "unknown layout: expected a JSON object, got a list"),
        ({"results": []}, "unknown layout: `results` must be an object"),
        ({"results": {}}, "no results"),
        ({"results": {"piqa": {"alias": "piqa"}}}, "no results"),
        ({"results": {"piqa": {"acc": True}}}, "must be a number"),
        ({"results": {"piqa": {"acc_stderr": 0.1}}}, "a standard error for 'acc' but no value"),
        ({"results": {"piqa": {"acc,none": 0.5}}, "n-shot": {"piqa": -1}}, "n-shot of piqa must be a whole number"),
        ({"results": {"piqa": {"acc": 0.5}}, "config": {"model_args": 3}}, "`config.model_args` must be"),
        ({"results": {"piqa": {"acc": 0.5}}, "date": "yesterday"}, "`date` must be a Unix timestamp"),
        ({"results": {"x" * 201: {"acc": 0.5}}}, "task name is longer than 200 characters"),
        ({"results": {"piqa": {"acc": 10**400}}}, "piqa: acc must be a finite number, got inf"),
        (
            {"results": {"piqa": {"acc": 0.5}}, "config": {"model_args": "pretrained=a/b,revision=step" + "9" * 20}},
            "the step must be a whole number from 0 to",
        ),
    ],
)
def test_malformed_documents_are_refused_with_a_reason_and_nothing_written(document, reason):
    outcome = import_document(document, origin="upload.json")

    assert reason in outcome.error
    assert not outcome.ok
    assert not ModelFamily.objects.exists()
    assert not Benchmark.objects.exists()


def test_a_file_failing_after_writing_leaves_nothing_and_the_next_file_still_imports(monkeypatch):
    record_results = ingest.record_results
    failures = []

    def write_then_fail_once(results):
        recorded = record_results(results)
        if not failures:
            failures.append(results)
            raise ValidationError("the database said no")
        return recorded

    monkeypatch.setattr(ingest, "record_results", write_then_fail_once)

    summary = import_paths([FIRST_160M, FINAL_160M])

    assert [outcome.error for outcome in summary.outcomes] == ["the database said no", ""]
    assert len(failures[0]) == 87
    assert list(Checkpoint.objects.values_list("step", flat=True)) == [143000]
    assert Evaluation.objects.count() == 87
    # The benchmarks and metrics created by the failed file were rolled back and created again for the next one.
    assert Metric.objects.filter(benchmark__slug="piqa").count() == 2
