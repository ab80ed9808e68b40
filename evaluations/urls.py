from django.urls import path

from . import views

app_name = "evaluations"

urlpatterns = [
    path("models/<int:pk>/", views.model_detail, name="model"),
    path("trainings/<int:pk>/", views.training_detail, name="training"),
    path("checkpoints/<int:pk>/", views.checkpoint_detail, name="checkpoint"),
    path("benchmarks/", views.benchmark_list, name="benchmarks"),
    path("benchmarks/<int:pk>/", views.benchmark_detail, name="benchmark"),
]
