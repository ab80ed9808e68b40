from django.http import HttpRequest
from django.template.response import TemplateResponse

from evaluations import views as evaluation_views

from ..models import Leaderboard

HOME_LEADERBOARDS = 6
TOP_ROWS = 5


def home(request: HttpRequest) -> TemplateResponse:
    """The catalogue overview of the evaluations app, headed by the public leaderboards and their top rows."""
    response = evaluation_views.home(request)
    boards = (
        Leaderboard.objects.filter(is_public=True)
        .prefetch_related("entries__metric__benchmark", "filter_models", "filter_trainings", "filter_tags")
        .order_by("display_order", "name")[:HOME_LEADERBOARDS]
    )
    # One query per leaderboard shown: a handful, curated in the admin.
    response.context_data["leaderboards"] = [
        (board, list(board.rows().select_related("training__model")[:TOP_ROWS]) if board.entries.all() else [])
        for board in boards
    ]
    return response
