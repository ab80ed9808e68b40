"""`manage.py load_demo` and the demo data file it loads."""

import gzip
import importlib.util
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Count

from evaluations.models import Benchmark, Checkpoint, Evaluation, ModelFamily, Score, Training
from tests import factories

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = ROOT / "demo" / "pythia-v1-zero-shot.json.gz"
TASKS = 11


def load_demo(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", *args, "--no-progress", stdout=out)
    return out.getvalue()


def counts() -> list[int]:
    return [model.objects.count() for model in (ModelFamily, Training, Checkpoint, Benchmark, Evaluation, Score)]


# Tests that load nothing come first: the module's demo data, once loaded, stays until the module ends.
def test_nothing_is_loaded_into_a_database_that_has_evaluations():
    factories.evaluation()

    assert load_demo() == "Demo data already present; nothing loaded.\n"
    assert not Training.objects.filter(name__startswith="pythia").exists()


def test_the_demo_loads_16_trainings_of_27_checkpoints(demo_data):
    # Its speed is measured by `manage.py bench` (the importer's throughput), not asserted here.
    assert f"Demo data loaded: 432 files, {432 * TASKS} evaluations created." in demo_data
    assert Training.objects.count() == 16
    per_training = Training.objects.annotate(checkpoints_count=Count("checkpoints"))
    assert set(per_training.values_list("checkpoints_count", flat=True)) == {27}
    assert Benchmark.objects.count() == TASKS
    assert {"lambada_openai", "arc_challenge", "wsc"} <= set(Benchmark.objects.values_list("slug", flat=True))


def test_loading_again_adds_nothing_even_when_forced(demo_data):
    before = counts()

    assert load_demo() == "Demo data already present; nothing loaded.\n"
    assert "0 evaluations created" in load_demo("--force")
    assert counts() == before


def test_the_demo_models_are_described(demo_data):
    model = ModelFamily.objects.get(name="pythia-v1.1-1.4b")
    assert (model.parameter_count, model.architecture, model.license) == (1_400_000_000, "GPT-NeoX", "Apache-2.0")
    assert list(model.tags.values_list("name", flat=True)) == ["pythia"]
    assert ModelFamily.objects.get(name="pythia-v1.1-70m").parameter_count == 70_000_000
    assert "deduplicated" in Training.objects.get(name="pythia-v1.1-1.4b-deduped").description


def test_the_demo_file_is_what_the_build_script_makes_from_the_vendored_dataset():
    spec = importlib.util.spec_from_file_location("build_demo_data", ROOT / "demo" / "build_demo_data.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    assert json.loads(gzip.decompress(DEMO_FILE.read_bytes())) == script.build()
    assert DEMO_FILE.stat().st_size < 500_000
