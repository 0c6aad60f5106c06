"""The project's URLs plus a bare view, for bench/drill_http.py: the floor every request
pays (gunicorn, the middleware, a session and a user) with no work of Cadence's own."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as project


def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/floor/", floor, name="bench_floor"), *project]
