"""The pages of the site that rank: leaderboards, trainings, checkpoints, comparisons and analyses."""

from .checkpoints import checkpoint, compare
from .leaderboards import docs, leaderboard, leaderboard_list, ranking
from .trainings import select_deployment, training

__all__ = [
    "checkpoint",
    "compare",
    "docs",
    "leaderboard",
    "leaderboard_list",
    "ranking",
    "select_deployment",
    "training",
]
