"""The REST API (docs/api.md): version 1 under /api/v1/, its OpenAPI schema, and docs served without a CDN."""

from django.conf import settings
from django.urls import include, path, re_path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from evaluations.api import views
from evaluations.api.errors import not_found
from evaluations.api.jobs import EvaluationJobViewSet
from evaluations.api.writes import LmEvalImportView, ResultsView
from rankings.api import LeaderboardViewSet, RankingView

app_name = "api"

LIST = {"get": "list"}
DETAIL = {"get": "retrieve"}


def read_only(prefix: str, viewset, name: str) -> list:
    return [
        path(f"{prefix}/", viewset.as_view(LIST), name=f"{name}-list"),
        path(f"{prefix}/<int:pk>/", viewset.as_view(DETAIL), name=f"{name}-detail"),
    ]


v1 = [
    *read_only("models", views.ModelViewSet, "model"),
    *read_only("trainings", views.TrainingViewSet, "training"),
    *read_only("checkpoints", views.CheckpointViewSet, "checkpoint"),
    *read_only("benchmarks", views.BenchmarkViewSet, "benchmark"),
    path("evaluations/", EvaluationJobViewSet.as_view({"get": "list", "post": "create"}), name="evaluation-list"),
    path("evaluations/claim/", EvaluationJobViewSet.as_view({"post": "claim"}), name="evaluation-claim"),
    path("evaluations/<int:pk>/", EvaluationJobViewSet.as_view(DETAIL), name="evaluation-detail"),
    path(
        "evaluations/<int:pk>/heartbeat/",
        EvaluationJobViewSet.as_view({"post": "heartbeat"}),
        name="evaluation-heartbeat",
    ),
    path(
        "evaluations/<int:pk>/complete/", EvaluationJobViewSet.as_view({"post": "complete"}), name="evaluation-complete"
    ),
    path("evaluations/<int:pk>/fail/", EvaluationJobViewSet.as_view({"post": "fail"}), name="evaluation-fail"),
    path("results/", ResultsView.as_view(), name="results"),
    path("imports/lm-eval/", LmEvalImportView.as_view(), name="import-lm-eval"),
    path("leaderboards/", LeaderboardViewSet.as_view(LIST), name="leaderboard-list"),
    path("leaderboards/<slug:slug>/", LeaderboardViewSet.as_view(DETAIL), name="leaderboard-detail"),
    path("leaderboards/<slug:slug>/rows/", LeaderboardViewSet.as_view({"get": "rows"}), name="leaderboard-rows"),
    path("rankings/", RankingView.as_view(), name="rankings"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from a URL (?script) instead of inline, as the CSP requires.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Redoc builds its search index in a Web Worker started from a blob: URL; only this page allows that.
    path(
        "redoc/",
        csp_override({**settings.SECURE_CSP, "worker-src": [CSP.SELF, "blob:"]})(
            SpectacularRedocView.as_view(url_name="api:schema")
        ),
        name="redoc",
    ),
    # Anything else under /api/ is a JSON 404, not the site's HTML page.
    re_path(r"", not_found),
]
