"""The pages of the site that rank: leaderboards, trainings, checkpoints, comparisons and analyses."""

from .analysis import across, progress
from .checkpoints import checkpoint, compare
from .home import home
from .leaderboards import docs, leaderboard, leaderboard_list, ranking
from .models import model_detail
from .pareto import pareto
from .trainings import select_deployment, training

__all__ = [
    "across",
    "progress",
    "checkpoint",
    "compare",
    "docs",
    "home",
    "leaderboard",
    "leaderboard_list",
    "model_detail",
    "pareto",
    "ranking",
    "select_deployment",
    "training",
]
