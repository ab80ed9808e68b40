from django.urls import path

from . import views

app_name = "rankings"

urlpatterns = [
    path("leaderboards/", views.leaderboard_list, name="leaderboards"),
    path("leaderboards/<slug:slug>/", views.leaderboard, name="leaderboard"),
    path("rank/", views.ranking, name="ranking"),
    path("rank/across/", views.across, name="across"),
    path("pareto/", views.pareto, name="pareto"),
    path("leaderboards/<slug:slug>/pareto/", views.pareto, name="leaderboard_pareto"),
    path("leaderboards/<slug:slug>/progress/", views.progress, name="progress"),
    path("docs/rankings/", views.docs, name="docs"),
    path("trainings/<int:pk>/", views.training, name="training"),
    path("trainings/deploy/<int:pk>/", views.select_deployment, name="select_deployment"),
    path("checkpoints/<int:pk>/", views.checkpoint, name="checkpoint"),
    path("compare/", views.compare, name="compare"),
]
