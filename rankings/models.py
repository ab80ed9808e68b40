"""Rankings over the evaluation data: ranked checkpoints and saved leaderboards."""

from evaluations.models import Checkpoint

from .queries import RankingQuerySet


class RankedCheckpoint(Checkpoint):
    """A checkpoint seen as a row of a ranking: `RankedCheckpoint.objects.filter(...).ranked(spec)`."""

    objects = RankingQuerySet.as_manager()

    class Meta:
        proxy = True
