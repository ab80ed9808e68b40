from django.http import HttpRequest
from django.template.response import TemplateResponse

from evaluations import views as evaluation_views

from ..models import Leaderboard
from ..tables import page_decimals
from .leaderboards import PER_PAGE

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
    # One query per leaderboard shown: a handful, curated in the admin. One that cannot rank shows why, alone.
    response.context_data["leaderboards"] = [(board, board.ranking_error(), *_top_rows(board)) for board in boards]
    return response


def _top_rows(board: Leaderboard) -> tuple[list, int]:
    """The board's top rows, and the decimals its scores take: those of the board's own first page, so that the card
    and the table read alike (the digits are chosen to tell apart the values of a page)."""
    if not board.entries.all() or board.ranking_error():
        return [], 0
    first_page = list(board.rows().select_related("training__model")[:PER_PAGE])
    return first_page[:TOP_ROWS], page_decimals(first_page, board.spec())["score"]
