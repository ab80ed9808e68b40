from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


model_detail = training_detail = checkpoint_detail = benchmark_list = benchmark_detail = home
