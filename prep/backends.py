"""The sign-in backend: Django's model backend, loading what every signed-in request reads
(the profile and its track, the fitted memory parameters) in the query that loads the
user, so the middleware and the drill need no query of their own for them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class UserBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        user = (
            model._default_manager.select_related("profile__track", "memory_parameters")
            .filter(pk=user_id)
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None
