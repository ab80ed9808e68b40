from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from accounts import views as account_views
from leaderboard_site import health
from rankings import views as ranking_views


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Resolved per request: the hashed static name is only known once collectstatic has run.
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("", ranking_views.home, name="home"),
    # The model page with results from the ranking engine: the rankings view extends the evaluations page, which
    # `evaluations:model` still names (this pattern comes first, so it answers that address).
    path("models/<int:pk>/", ranking_views.model_detail),
    path("", include("evaluations.urls")),
    path("", include("rankings.urls")),
    path("accounts/login/", account_views.login, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The admin's own sign-in page, with the same limit on failed attempts (it comes first, so it wins).
    path("admin/login/", account_views.admin_login),
    path("admin/", admin.site.urls),
    path("api/", include("leaderboard_site.api_urls")),
    # Probed by load balancers over plain HTTP too: exempt from the HTTPS redirect (SECURE_REDIRECT_EXEMPT).
    # Browsers ask for /favicon.ico whatever the page links to: point them at the icon in static.
    path("favicon.ico", favicon),
    path("healthz", health.healthz, name="healthz"),
]

# Unhandled exceptions under /api/ answer JSON like every other API error; the pages keep templates/500.html.
handler500 = "evaluations.api.errors.server_error"
