"""`manage.py import_lm_eval PATH…`: import lm-evaluation-harness result files, reporting every file that failed."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from evaluations.importers import ImportSummary, Overrides, import_paths


def step(raw: str) -> int:
    """A training step on the command line: a whole number ≥ 0."""
    if not raw.isdigit():
        raise ValueError(raw)
    return int(raw)


class Command(BaseCommand):
    help = (
        "Import lm-evaluation-harness result files (0.3 or 0.4 JSON). Folders are searched for *.json files. "
        "Model, training and step are read from each file unless given here. Files that fail are reported and "
        "skipped; the others are imported, and the command then exits with an error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="Result files or folders.")
        parser.add_argument("--model", help="Model name for every file, instead of the inferred one.")
        parser.add_argument(
            "--training", help="Training name for every file; also names the model unless --model is given."
        )
        parser.add_argument("--step", type=step, help="Checkpoint step for every file, instead of its revision.")
        parser.add_argument("--no-progress", action="store_true", help="Do not show a progress bar.")

    def handle(self, *args, paths: list[Path], **options) -> None:
        overrides = Overrides(model=options["model"], training=options["training"], step=options["step"])
        hide_bar = options["no_progress"] or not sys.stderr.isatty()
        summary = import_paths(
            paths,
            overrides=overrides,
            progress=lambda files: tqdm(files, unit="file", disable=hide_bar or len(files) < 2),
        )
        if options["verbosity"] >= 2:
            for outcome in summary.outcomes:
                if outcome.ok:
                    self.stdout.write(f"{outcome.origin}: {outcome.created} created, {outcome.unchanged} unchanged")
        self.report(summary)

    def report(self, summary: ImportSummary) -> None:
        if not summary.files:
            raise CommandError("No result files found.")
        failed = summary.failed
        self.stdout.write(
            f"Files: {summary.files} read, {summary.files - len(failed)} imported, {len(failed)} failed.\n"
            f"Evaluations: {summary.created} created, {summary.unchanged} unchanged."
        )
        if summary.conflicts:
            self.stdout.write(f"Conflicts: {len(summary.conflicts)} files refused rather than merged.")
        for outcome in failed:
            self.stderr.write(f"{'CONFLICT' if outcome.conflict else 'FAILED'} {outcome.origin}: {outcome.error}")
        if failed:
            advice = ""
            if conflicts := summary.conflicts:
                advice = (
                    f" {len(conflicts)} of them would have merged with another file's results for a different model: "
                    "import them separately with --training (or --step) naming each."
                )
            raise CommandError(
                f"{len(failed)} of {summary.files} files could not be imported; nothing of them was written.{advice}"
            )
        self.stdout.write(self.style.SUCCESS("Done."))
