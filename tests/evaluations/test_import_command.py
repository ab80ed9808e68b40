"""`manage.py import_lm_eval`: options, summary, per-file errors, exit status, progress bar."""

import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evaluations.models import Checkpoint, Evaluation
from tests import datasets

pytestmark = pytest.mark.django_db

DATASET = datasets.pythia()
DATA = Path(__file__).resolve().parent / "data"
FINAL_160M = DATASET / "pythia-160m" / "zero-shot" / "160m_step143000.json"
FIRST_160M = DATASET / "pythia-160m" / "zero-shot" / "160m_step0.json"


def run(*args: object) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_lm_eval", *map(str, args), "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_files_and_folders_are_imported_and_summarised():
    out, err = run(FINAL_160M, DATA / "lm_eval_04")

    assert "Files: 3 read, 3 imported, 0 failed." in out
    assert "Evaluations: 97 created, 0 unchanged." in out  # 87 + 9 + 1
    assert err == ""
    assert Evaluation.objects.count() == 97


def test_a_second_run_reports_everything_unchanged():
    run(FINAL_160M)

    out, _ = run(FINAL_160M)

    assert "Evaluations: 0 created, 87 unchanged." in out
    assert Evaluation.objects.count() == 87


def test_options_override_model_training_and_step():
    run(FINAL_160M, FIRST_160M, "--model", "mine", "--training", "mine-run", "--step", "7")

    checkpoint = Checkpoint.objects.get()
    assert (checkpoint.training.model.name, checkpoint.training.name, checkpoint.step) == ("mine", "mine-run", 7)
    # Two files, one checkpoint: the second file's different values are a newer evaluation of each benchmark.
    assert Evaluation.objects.count() == 2 * 87


def test_failed_files_are_listed_and_the_command_fails_after_importing_the_good_ones():
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="8 of 9 files could not be imported") as raised:
        call_command("import_lm_eval", str(FINAL_160M), str(DATA / "bad"), "--no-progress", stdout=out, stderr=err)

    assert raised.value.returncode == 1
    assert "Files: 9 read, 1 imported, 8 failed." in out.getvalue()
    assert "Evaluations: 87 created, 0 unchanged." in out.getvalue()
    lines = err.getvalue().splitlines()
    assert len(lines) == 8
    assert f"FAILED {DATA / 'bad' / 'nan_value.json'}: arc_easy: acc must be a finite number, got nan." in lines
    assert Evaluation.objects.count() == 87


def test_a_missing_path_is_a_failed_file():
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_lm_eval", "no/such/file.json", "--no-progress", stdout=StringIO(), stderr=err)

    assert "FAILED no/such/file.json: cannot read it: No such file or directory." in err.getvalue()


def test_a_folder_without_result_files_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="No result files found"):
        run(tmp_path)


def test_a_negative_step_is_refused():
    with pytest.raises(CommandError, match="invalid step value"):
        run(FINAL_160M, "--step", "-3")


def test_verbose_runs_list_every_file():
    out, _ = run(FINAL_160M, "-v", "2")

    assert f"{FINAL_160M}: 87 created, 0 unchanged" in out


def test_the_progress_bar_shows_on_a_terminal_unless_turned_off(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    call_command("import_lm_eval", str(FINAL_160M), str(FIRST_160M), stdout=StringIO())
    assert "2/2" in capsys.readouterr().err

    call_command("import_lm_eval", str(FINAL_160M), str(FIRST_160M), "--no-progress", stdout=StringIO())
    assert capsys.readouterr().err == ""
