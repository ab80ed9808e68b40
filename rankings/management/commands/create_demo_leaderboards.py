from django.core.management.base import BaseCommand
from django.db import transaction

from evaluations.models import Metric
from rankings.methods import Method
from rankings.models import Leaderboard, LeaderboardMetric

# (slug, name, method, description, [(task, metric key, weight)]): the leaderboards a team would set up first.
DEMO_LEADERBOARDS = [
    (
        "zero-shot",
        "Zero-shot reasoning",
        Method.NORMALISED_MEAN,
        "The best checkpoint of each training on the classic zero-shot tasks, each scored 0 at random chance and "
        "100 at perfect, then averaged.",
        [(task, "acc", 1.0) for task in ("arc_easy", "arc_challenge", "piqa", "winogrande", "sciq", "logiqa", "wsc")],
    ),
    (
        "lambada-perplexity",
        "LAMBADA perplexity",
        Method.METRIC,
        "Perplexity on LAMBADA (OpenAI): lower is better.",
        [("lambada_openai", "ppl", 1.0)],
    ),
    (
        "win-rate",
        "Head to head",
        Method.WIN_RATE,
        "How often a checkpoint beats the others, task by task (HELM's mean win rate), LAMBADA counted twice.",
        [("lambada_openai", "acc", 2.0), ("arc_easy", "acc", 1.0), ("piqa", "acc", 1.0), ("winogrande", "acc", 1.0)],
    ),
]


class Command(BaseCommand):
    help = "Create the demo leaderboards over the demo data's benchmarks, only when there is no leaderboard yet."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        if Leaderboard.objects.exists():
            self.stdout.write("Leaderboards already exist; no demo leaderboard created.")
            return
        created = 0
        for order, (slug, name, method, description, entries) in enumerate(DEMO_LEADERBOARDS):
            metrics = [
                (Metric.objects.filter(benchmark__slug=task, key=key).order_by("benchmark__num_fewshot").first(), w)
                for task, key, w in entries
            ]
            metrics = [(metric, weight) for metric, weight in metrics if metric is not None]
            if not metrics:
                continue
            board = Leaderboard.objects.create(
                slug=slug, name=name, method=method, description=description, best_only=True, display_order=order
            )
            LeaderboardMetric.objects.bulk_create(
                LeaderboardMetric(leaderboard=board, metric=metric, weight=weight, order=index)
                for index, (metric, weight) in enumerate(metrics)
            )
            created += 1
        self.stdout.write(f"Demo leaderboards: {created} created.")
