from django.core.management.base import BaseCommand, CommandError

from evaluations.current import current_score_drift, rebuild_current_scores


class Command(BaseCommand):
    help = (
        "Recreate the current-score read model from the evaluation history, or with --check only report how far it "
        "has drifted from it (exit status 1 when it has)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Compare only; change nothing.")

    def handle(self, *args, check: bool, **options):
        if check:
            drift = current_score_drift()
            summary = ", ".join(f"{count} {kind}" for kind, count in drift.items())
            if any(drift.values()):
                raise CommandError(f"The current scores have drifted from the evaluation history: {summary}.")
            self.stdout.write(self.style.SUCCESS("The current scores match the evaluation history."))
            return
        rows = rebuild_current_scores()
        self.stdout.write(self.style.SUCCESS(f"Rebuilt the current scores: {rows} rows."))
