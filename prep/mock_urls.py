from __future__ import annotations

from django.urls import path

from prep import mock_views

urlpatterns = [
    path("", mock_views.mock_index, name="mock_index"),
    path("start/", mock_views.mock_begin, name="mock_begin"),
    path("<int:pk>/", mock_views.mock_session, name="mock_session"),
    path("<int:pk>/notes/<int:phase>/", mock_views.mock_note, name="mock_note"),
    path("<int:pk>/phase/", mock_views.mock_phase, name="mock_phase"),
    path("<int:pk>/timer/", mock_views.mock_timer, name="mock_timer"),
    path("<int:pk>/finish/", mock_views.mock_end, name="mock_finish"),
    path("<int:pk>/score/", mock_views.mock_score_view, name="mock_score"),
    path("<int:pk>/export.md", mock_views.mock_export, name="mock_export"),
    path("<int:pk>/share/", mock_views.mock_share, name="mock_share"),
    path(
        "<int:pk>/share/<int:share_id>/revoke/",
        mock_views.mock_share_stop,
        name="mock_share_revoke",
    ),
    path("shared/<str:token>/", mock_views.mock_shared, name="mock_shared"),
]
