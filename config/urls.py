from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView


class FaviconRedirect(RedirectView):
    permanent = True

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        # At request time: the hashed name comes from the static manifest.
        return static("favicon.svg")


urlpatterns = [
    path("", include("prep.urls")),
    path("", include("cards.urls")),
    path("admin/", admin.site.urls),
    # Pages without our <link rel="icon"> (the admin's) and browsers ask for this path.
    path(
        "favicon.ico",
        login_not_required(FaviconRedirect.as_view()),
    ),
]
