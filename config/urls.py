from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from prep import views as prep_views
from prep.forms import QueuedPasswordResetForm

urlpatterns = [
    path("", prep_views.home, name="home"),
    path("welcome/", prep_views.onboarding, name="onboarding"),
    path("plan/", prep_views.plan, name="plan"),
    path("plan/items/<int:item_id>/done/", prep_views.plan_item_toggle, name="plan_item_toggle"),
    path("plan/rebuild/", prep_views.plan_rebuild, name="plan_rebuild"),
    path("plan/feed/", prep_views.feed_settings, name="feed_settings"),
    path("plan/feed/<str:token>.ics", prep_views.feed, name="plan_feed"),
    path("accounts/signup/", prep_views.signup, name="signup"),
    path("accounts/profile/", prep_views.profile, name="profile"),
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=QueuedPasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("email/", include("prep.email_urls")),
    path("mocks/", include("prep.mock_urls")),
    path("", include("cards.urls")),
    path("admin/", admin.site.urls),
]
