"""The lm-evaluation-harness importer on real 0.4 files (tests/evaluations/data/real, sources in its README)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evaluations.importers import InvalidResultFile, Overrides, import_document, import_paths, parse_document
from evaluations.models import Benchmark, Checkpoint, Evaluation, Metric, Score

pytestmark = pytest.mark.django_db

REAL = Path(__file__).resolve().parent / "data" / "real"
ADAPTERS = REAL / "asdiv_peft"
EPOCH_5, EPOCH_20 = sorted(ADAPTERS.glob("*epoch_5/*.json")) + sorted(ADAPTERS.glob("*epoch_20/*.json"))
QWEN_MMLU = REAL / "Qwen__Qwen2.5-1.5B" / "results_2025-03-03T00-05-12.300060.json"
RWKV_LAMBADA = REAL / "fla-hub__rwkv7-0.1B-g1" / "results_2025-03-10T18-51-58.020979.json"
NL2FOAM = REAL / "all-results-original" / "results_2025-12-17T20-24-58.608862.json"
BBH = REAL / "leaderboard_bbh" / "results.json"
ADAPTER_TRAINING = "gsm8k_8shot_pursue_numq_1000_r16_lr1e-6"
HIGHER, LOWER, UNKNOWN = Metric.Direction.HIGHER, Metric.Direction.LOWER, Metric.Direction.UNKNOWN


def score(step: int, task: str, key: str) -> Score:
    return Score.objects.get(evaluation__checkpoint__step=step, evaluation__benchmark__slug=task, metric__key=key)


def test_a_leaderboard_group_placeholder_is_skipped_and_its_members_import():
    outcome = import_paths([BBH]).outcomes[0]

    assert (outcome.error, outcome.created) == ("", 4)
    assert set(Benchmark.objects.values_list("slug", flat=True)) == {
        "leaderboard_bbh_boolean_expressions",
        "leaderboard_bbh_causal_judgement",
        "leaderboard_bbh_geometric_shapes",
        "leaderboard_bbh_web_of_lies",
    }
    boolean = Score.objects.get(evaluation__benchmark__slug="leaderboard_bbh_boolean_expressions")
    assert (boolean.metric.key, boolean.value, boolean.stderr) == ("acc_norm", 0.436, 0.03142556706028128)


def test_the_members_of_a_placeholder_group_know_their_group():
    document = json.loads(BBH.read_text())
    members = [task for task in document["results"] if task != "leaderboard_bbh"]
    document["group_subtasks"] = {"leaderboard_bbh": members} | {member: [] for member in members}

    assert import_document(document, origin="bbh.json").ok

    assert set(Benchmark.objects.values_list("group", flat=True)) == {"leaderboard_bbh"}


def test_group_rows_with_aggregates_import_and_group_subtasks_name_each_members_group():
    outcome = import_paths([QWEN_MMLU]).outcomes[0]

    assert (outcome.error, outcome.created) == ("", 8)
    groups = dict(Benchmark.objects.values_list("slug", "group"))
    assert groups == {
        "mmlu": "",
        "mmlu_humanities": "mmlu",
        "mmlu_stem": "mmlu",
        "mmlu_formal_logic": "mmlu_humanities",
        "mmlu_philosophy": "mmlu_humanities",
        "mmlu_abstract_algebra": "mmlu_stem",
        "cola": "",
        "mrpc": "",
    }
    assert Score.objects.get(evaluation__benchmark__slug="mmlu", metric__key="acc").value == 0.5961401509756445
    assert Score.objects.get(evaluation__benchmark__slug="cola", metric__key="mcc").value == -0.0005447969648709635
    # No config: the folder lm-eval named after the model ("/" written "__") names it.
    assert (outcome.checkpoint.training.model.name, outcome.checkpoint.training.name) == ("Qwen2.5-1.5B",) * 2


def test_an_admins_group_is_kept():
    import_paths([QWEN_MMLU])
    Benchmark.objects.filter(slug="mmlu_philosophy").update(group="mmlu_custom")

    import_paths([QWEN_MMLU])

    assert Benchmark.objects.get(slug="mmlu_philosophy").group == "mmlu_custom"


def test_each_peft_adapter_epoch_is_a_checkpoint_of_the_adapters_training_of_the_base_model():
    summary = import_paths([ADAPTERS])

    assert (summary.failed, summary.created) == ([], 2)
    assert set(Checkpoint.objects.values_list("training__model__name", "training__name", "step")) == {
        ("Meta-Llama-3-8B-Instruct", ADAPTER_TRAINING, 5),
        ("Meta-Llama-3-8B-Instruct", ADAPTER_TRAINING, 20),
    }
    assert score(5, "asdiv_cot_llama", "exact_match,strict-match").value == 0.892578125
    assert score(20, "asdiv_cot_llama", "exact_match,flexible-extract").stderr == 0.011595795778752709
    benchmark = Benchmark.objects.get()
    assert (benchmark.num_fewshot, benchmark.version) == (8, "1.0")
    assert set(benchmark.metrics.values_list("key", "direction")) == {
        ("exact_match,strict-match", HIGHER),
        ("exact_match,flexible-extract", HIGHER),
    }
    assert Evaluation.objects.get(checkpoint__step=5).config["n_samples"] == {"original": 2305, "effective": 512}


def test_the_base_model_without_its_adapter_is_a_training_of_the_same_model():
    document = json.loads(EPOCH_5.read_text())
    document["config"]["model_args"] = "pretrained=meta-llama/Meta-Llama-3-8B-Instruct"

    parsed = parse_document(document, origin=str(EPOCH_5))

    assert (parsed.model, parsed.training, parsed.step) == (
        "Meta-Llama-3-8B-Instruct",
        "Meta-Llama-3-8B-Instruct",
        None,
    )


@pytest.mark.parametrize(
    ("model_args", "identity"),
    [
        (
            "pretrained=meta-llama/Meta-Llama-3-8B-Instruct,peft=/runs/lora-x/epoch_20",
            ("Meta-Llama-3-8B-Instruct", "lora-x", 20),
        ),
        (
            "pretrained=base/m-7b,peft=outputs/llama-8b-grpo/checkpoint-1500,dtype=bfloat16",
            ("m-7b", "llama-8b-grpo", 1500),
        ),
        ("pretrained=base/m-7b,peft=/home/x/models/llama-3-8B-peft", ("m-7b", "llama-3-8B-peft", None)),
        ("pretrained=/out/run-a/checkpoint-1500", ("run-a", "run-a", 1500)),
        ("pretrained=/out/run-a/step_1500/", ("run-a", "run-a", 1500)),
        ({"load": "/ckpts/neox-160m", "iteration": 11500, "train_iters": 143000}, ("neox-160m", "neox-160m", 11500)),
        ({"load": "/ckpts/neox-160m/global_step11500", "seq_length": 2048}, ("neox-160m", "neox-160m", 11500)),
        ("pretrained=/out/run-a/checkpoint-1500,revision=step1500", ("run-a", "run-a", 1500)),
    ],
)
def test_steps_are_read_wherever_the_file_states_them(model_args, identity):
    document = json.loads(RWKV_LAMBADA.read_text())
    document["config"]["model_args"] = model_args
    del document["config"]["model_revision"]

    parsed = parse_document(document, origin="results.json")

    assert (parsed.model, parsed.training, parsed.step) == identity


@pytest.mark.parametrize(
    ("model_args", "reason"),
    [
        ("pretrained=base/m,peft=./checkpoint-50", "cannot tell the training from `peft` './checkpoint-50'"),
        ("pretrained=/out/run/checkpoint-1500,revision=step2000", "the file names two steps"),
        ({"load": "/ckpts/neox", "iteration": "latest"}, "`iteration` in `config.model_args` must be a whole number"),
    ],
)
def test_a_step_that_cannot_be_told_is_refused_with_the_key(model_args, reason):
    document = json.loads(RWKV_LAMBADA.read_text())
    document["config"]["model_args"] = model_args

    with pytest.raises(InvalidResultFile, match=reason):
        parse_document(document, origin="results.json")

    document["config"]["model_args"] = model_args
    assert parse_document(document, origin="r.json", overrides=Overrides(training="t", step=3)).step == 3


def test_perplexity_bleu_rouge_and_a_0_to_100_judge_keep_their_direction_and_no_bounds():
    summary = import_paths([RWKV_LAMBADA, NL2FOAM])

    assert (summary.failed, summary.created) == ([], 3)
    metrics = {
        key: (direction, lower, upper)
        for key, direction, lower, upper in Metric.objects.values_list("key", "direction", "lower_bound", "upper_bound")
    }
    assert metrics == {
        "perplexity": (LOWER, None, None),
        "acc": (HIGHER, 0.0, 1.0),
        "bleu": (HIGHER, None, None),
        "rouge1": (HIGHER, None, None),
        "rouge2": (HIGHER, None, None),
        "rougeL": (HIGHER, None, None),
        "bert_score": (HIGHER, None, None),  # declared by the file
        "llm_judge": (HIGHER, None, None),
    }
    assert Score.objects.get(metric__key="perplexity").value == 13.83580044796159
    assert Score.objects.get(metric__key="llm_judge").value == 89.156
    assert set(Checkpoint.objects.values_list("training__name", flat=True)) == {
        "rwkv7-0.1B-g1",
        "nl2foam_sft_0__8__1765350318",  # model_args as an object; the empty model_name is ignored
    }


def test_perplexities_and_bits_per_byte_are_lower_is_better_and_unbounded():
    document = json.loads(RWKV_LAMBADA.read_text())
    document["results"] = {
        "wikitext": {
            "alias": "wikitext",
            "word_perplexity,none": 12.0,
            "word_perplexity_stderr,none": "N/A",
            "byte_perplexity,none": 1.6,
            "byte_perplexity_stderr,none": "N/A",
            "bits_per_byte,none": 0.68,
            "bits_per_byte_stderr,none": "N/A",
        }
    }
    del document["higher_is_better"]

    assert import_document(document, origin="wikitext.json").ok

    assert set(Metric.objects.values_list("key", "direction", "lower_bound", "upper_bound", "is_primary")) == {
        ("word_perplexity", LOWER, None, None, True),
        ("byte_perplexity", LOWER, None, None, False),
        ("bits_per_byte", LOWER, None, None, False),
    }
    assert not Score.objects.filter(stderr__isnull=False).exists()


def run(*args: object) -> tuple[str, str, CommandError | None]:
    out, err = StringIO(), StringIO()
    try:
        call_command("import_lm_eval", *map(str, args), "--no-progress", stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def rwkv_variant(tmp_path: Path, name: str, *, model_args: str, acc: float) -> Path:
    document = json.loads(RWKV_LAMBADA.read_text())
    document["config"]["model_args"] = model_args
    document["results"]["lambada_openai"]["acc,none"] = acc
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_two_models_landing_on_one_checkpoint_are_reported_and_the_command_fails(tmp_path):
    other = rwkv_variant(
        tmp_path, "other.json", model_args="pretrained=/mnt/copy/rwkv7-0.1B-g1,dtype=bfloat16", acc=0.5
    )

    out, err, error = run(RWKV_LAMBADA, other)

    assert error is not None
    assert error.returncode == 1
    assert "--training" in str(error)
    assert "--step" in str(error)
    assert "Conflicts: 1 files refused rather than merged." in out
    (line,) = err.splitlines()
    assert line.startswith(f"CONFLICT {other}: conflicts with {RWKV_LAMBADA}: both land on rwkv7-0.1B-g1 step 0")
    assert Evaluation.objects.count() == 1  # the other file is not buried as the newer evaluation

    out, err, error = run(other, "--training", "rwkv7-0.1B-g1-copy")

    assert error is None
    assert set(Checkpoint.objects.values_list("training__name", flat=True)) == {"rwkv7-0.1B-g1", "rwkv7-0.1B-g1-copy"}


def test_a_rerun_with_the_same_model_arguments_is_a_newer_evaluation_not_a_conflict(tmp_path):
    document = json.loads(RWKV_LAMBADA.read_text())
    rerun = rwkv_variant(tmp_path, "rerun.json", model_args=document["config"]["model_args"], acc=0.49)

    out, err, error = run(RWKV_LAMBADA, rerun)

    assert (error, err) == (None, "")
    assert Evaluation.objects.count() == 2


def test_an_invalid_file_gets_one_line_naming_the_file_and_the_key(tmp_path):
    document = json.loads(QWEN_MMLU.read_text())
    document["group_subtasks"]["mmlu"] = "mmlu_stem"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))

    _, err, error = run(bad, RWKV_LAMBADA)

    assert error is not None
    assert err.splitlines() == [f"FAILED {bad}: unknown layout: `group_subtasks` of mmlu must be a list of task names."]
    assert not Benchmark.objects.filter(slug__startswith="mmlu").exists()
    assert Evaluation.objects.count() == 1
