from django.urls import path

from . import views
from .pages import coverage, queue

app_name = "evaluations"

urlpatterns = [
    path("models/<int:pk>/", views.model_detail, name="model"),
    path("benchmarks/", views.benchmark_list, name="benchmarks"),
    path("benchmarks/<int:pk>/", views.benchmark_detail, name="benchmark"),
    path("coverage/", coverage.coverage, name="coverage"),
    path("coverage/request/", coverage.request_missing, name="coverage_request"),
    path("evaluations/request/", queue.request_page, name="request"),
    path("queue/", queue.queue, name="queue"),
    path("queue/<int:pk>/cancel/", queue.cancel, name="cancel"),
]
