"""The sign-in backend: Django's model backend, loading what every signed-in request reads
(the profile and its track, the fitted memory parameters) in the query that loads the
user, so the middleware and the drill need no query of their own for them.

Every request loads its user, so that query is built once (cards.statements): built
through the ORM it cost 1.4 ms of CPU a request, six times running it."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.db.models import QuerySet

from cards.models import MemoryParameters
from cards.statements import ANY_ID, Loader, loader
from prep.models import Profile, Track


def user_queryset(user_id: Any) -> QuerySet[Any]:
    """The user with their profile and its track and their memory parameters."""
    model = get_user_model()
    return model._default_manager.select_related("profile__track", "memory_parameters").filter(
        pk=user_id
    )


@functools.lru_cache(maxsize=4)
def _user_loader(vendor: str) -> Loader:
    model = get_user_model()
    return loader(
        user_queryset(ANY_ID)[:1],
        # select_related's order: the user's reverse one-to-ones in the order their apps
        # are installed (cards before prep), each followed by what is read through it.
        chain=(
            (model, None),
            (MemoryParameters, MemoryParameters._meta.get_field("user")),
            (Profile, Profile._meta.get_field("user")),
            (Track, Profile._meta.get_field("track")),
        ),
        stand_ins={"user": ANY_ID},
    )


class UserBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        user = _user_loader(connection.vendor).first(user=pk)
        return user if user is not None and self.user_can_authenticate(user) else None
