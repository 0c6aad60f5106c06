from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from cards.views import browser, custom, drill, editor, import_export

urlpatterns = [
    path("review/", drill.drill, name="drill"),
    path("review/grade/", drill.grade, name="grade"),
    path("review/undo/", drill.undo, name="undo"),
    path("review/custom/", custom.custom_study, name="custom_study"),
    path("review/custom/grade/", custom.custom_grade, name="custom_grade"),
    path("review/cards/<int:card_id>/history/", drill.history, name="card_history"),
    path("review/cards/<int:card_id>/bury/", drill.bury, name="card_bury"),
    # The drill's editor of old; links to it open the one editor.
    path(
        "review/cards/<int:card_id>/edit/",
        RedirectView.as_view(pattern_name="card_change", permanent=True, query_string=True),
        name="card_edit",
    ),
    path("cards/", browser.card_browser, name="card_browser"),
    path("cards/bulk/", browser.cards_bulk, name="cards_bulk"),
    path("cards/new/", editor.card_new, name="card_new"),
    path("cards/preview/", editor.card_preview, name="card_preview"),
    path("cards/<int:card_id>/", editor.card_change, name="card_change"),
    path("cards/<int:card_id>/delete/", editor.card_remove, name="card_remove"),
    path("cards/<int:card_id>/copy/", editor.card_copy, name="card_copy"),
    path("cards/<int:card_id>/suspension/", editor.card_suspension, name="card_suspension"),
    path("cards/topics/", editor.topics, name="topics"),
    path("cards/topics/<int:topic_id>/", editor.topic_change, name="topic_change"),
    path("cards/topics/<int:topic_id>/delete/", editor.topic_remove, name="topic_remove"),
    path("cards/import/", import_export.import_upload, name="import_upload"),
    path("cards/import/<uuid:job_id>/", import_export.import_job, name="import_job"),
    path(
        "cards/import/<uuid:job_id>/confirm/",
        import_export.import_job_confirm,
        name="import_job_confirm",
    ),
    path(
        "cards/import/<uuid:job_id>/cancel/",
        import_export.import_job_cancel,
        name="import_job_cancel",
    ),
    path("cards/export/", import_export.export, name="export"),
    path("cards/export/cadence-cards.apkg", import_export.export_apkg, name="export_apkg"),
    path("cards/export/cadence-cards.csv", import_export.export_cards_csv, name="export_cards_csv"),
    path("cards/export/revlog.csv", import_export.export_revlog_csv, name="export_revlog_csv"),
    path("cards/media/<int:user_id>/<str:name>", import_export.card_media, name="card_media"),
]
