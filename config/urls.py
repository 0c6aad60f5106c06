from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("prep.urls")),
    path("", include("cards.urls")),
    path("admin/", admin.site.urls),
]
