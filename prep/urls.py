from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from prep import unsubscribe_views, views
from prep.forms import QueuedPasswordResetForm

urlpatterns = [
    path("", views.home, name="home"),
    path("welcome/", views.onboarding, name="onboarding"),
    path("plan/", views.plan, name="plan"),
    path("plan/items/<int:item_id>/done/", views.plan_item_toggle, name="plan_item_toggle"),
    path("plan/rebuild/", views.plan_rebuild, name="plan_rebuild"),
    path("plan/feed/", views.feed_settings, name="feed_settings"),
    path("plan/feed/<str:token>.ics", views.feed, name="plan_feed"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/profile/memory/", views.memory_fit_request, name="memory_fit"),
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=QueuedPasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("mocks/", include("prep.mock_urls")),
    path(
        "email/unsubscribe/<str:token>/",
        unsubscribe_views.unsubscribe,
        name="email_unsubscribe",
    ),
]
