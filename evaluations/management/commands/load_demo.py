"""`manage.py load_demo`: the Pythia zero-shot results (demo/pythia-v1-zero-shot.json.gz) on an empty database."""

import gzip
import json
import re
import sys
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

from evaluations.importers import Importer
from evaluations.models import Evaluation, ModelFamily, Tag

DEMO_FILE = settings.BASE_DIR / "demo" / "pythia-v1-zero-shot.json.gz"
# "pythia-v1.1-1.4b" → 1.4 billion: the size in the name, which is how Pythia models are known.
SIZE = re.compile(r"-(\d+(?:\.\d+)?)([mb])$")
UNITS = {"m": 10**6, "b": 10**9}


class Command(BaseCommand):
    help = (
        "Load the demo data: Pythia's published zero-shot results, 16 trainings × 27 checkpoints, through the "
        "lm-evaluation-harness importer. Does nothing if the database already holds evaluations, unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Load even if there are evaluations already.")
        parser.add_argument("--no-progress", action="store_true", help="Do not show a progress bar.")

    def handle(self, *args, force: bool, no_progress: bool, **options) -> None:
        if not force and Evaluation.objects.exists():
            self.stdout.write("Demo data already present; nothing loaded.")
            return
        entries = json.loads(gzip.decompress(DEMO_FILE.read_bytes()))
        importer = Importer()
        hide_bar = no_progress or not sys.stderr.isatty()
        outcomes = [
            importer.import_document(entry["document"], origin=entry["origin"])
            for entry in tqdm(entries, unit="file", disable=hide_bar)
        ]
        if failed := [outcome for outcome in outcomes if not outcome.ok]:
            raise CommandError("; ".join(f"{outcome.origin}: {outcome.error}" for outcome in failed))
        describe_models({outcome.checkpoint.training.model_id for outcome in outcomes})
        created = sum(outcome.created for outcome in outcomes)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded: {len(outcomes)} files, {created} evaluations created.")
        )


@transaction.atomic
def describe_models(model_ids: set[int]) -> None:
    """Fill in what is publicly known about the Pythia models, leaving anything already set alone."""
    tag, _ = Tag.objects.get_or_create(name="pythia")
    for model in ModelFamily.objects.filter(pk__in=model_ids).prefetch_related("trainings"):
        if model.parameter_count is None and (size := SIZE.search(model.name)):
            model.parameter_count = int(Decimal(size.group(1)) * UNITS[size.group(2)])
        model.architecture = model.architecture or "GPT-NeoX"
        model.license = model.license or "Apache-2.0"
        model.description = (
            model.description
            or "Part of EleutherAI's Pythia suite: every size trained on the same data in the same order."
        )
        model.save()
        model.tags.add(tag)
        for training in model.trainings.all():
            if not training.description:
                pile = "the deduplicated Pile" if training.name.endswith("-deduped") else "the Pile"
                training.description = f"Trained on {pile}; results published by EleutherAI (Apache-2.0)."
                training.save(update_fields=["description"])
