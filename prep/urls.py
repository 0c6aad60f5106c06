from __future__ import annotations

from django.urls import include, path

from prep import unsubscribe_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("welcome/", views.onboarding, name="onboarding"),
    path("plan/", views.plan, name="plan"),
    path("plan/items/<int:item_id>/done/", views.plan_item_toggle, name="plan_item_toggle"),
    path("plan/rebuild/", views.plan_rebuild, name="plan_rebuild"),
    path("plan/keep-going/", views.keep_going, name="keep_going"),
    path("review/custom/new-cards/", views.extra_new_cards, name="extra_new_cards"),
    path("plan/feed/", views.feed_settings, name="feed_settings"),
    path("plan/feed/<str:token>.ics", views.feed, name="plan_feed"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/signup/done/", views.signup_done, name="signup_done"),
    path(
        "accounts/activate/<uidb64>/<token>/",
        views.signup_activate_view,
        name="signup_activate",
    ),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/profile/memory/", views.memory_fit_request, name="memory_fit"),
    path(
        "accounts/password_reset/",
        views.ThrottledPasswordResetView.as_view(),
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
