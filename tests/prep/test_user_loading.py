"""The user every signed-in request loads (prep.backends): one statement built once, whose
user, profile, track and memory parameters are the ones ``select_related`` reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from cards.models import MemoryParameters
from cards.statements import ANY_ID
from prep.backends import UserBackend, _user_loader, user_queryset
from prep.models import Profile, Track
from tests.conftest import PASSWORD


def fields(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def loaded(user_id: Any) -> Any:
    return UserBackend().get_user(user_id)


def test_the_statement_built_once_is_the_querysets_for_any_user(db: Any) -> None:
    statement = _user_loader(connection.vendor).statement
    for user_id in (7, 123_456):
        sql, params = user_queryset(user_id)[:1].query.sql_with_params()
        assert (statement.sql, statement.bind(user=user_id)) == (sql, list(params))
    assert statement.slots["user"]
    assert ANY_ID in statement.params


def test_a_user_with_a_track_and_memory_parameters_is_loaded_as_the_orm_loads_them(
    owner: Any, track: Track, django_assert_num_queries: Any
) -> None:
    Profile.objects.filter(user=owner).update(track=track)
    MemoryParameters.objects.create(
        user=owner,
        parameters=[0.4] * 21,
        reviews=400,
        log_loss_before=0.5,
        rmse_before=0.1,
        log_loss_after=0.4,
        rmse_after=0.08,
        fitted_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
    )
    orm = user_queryset(owner.pk).get()
    with django_assert_num_queries(1):
        user = loaded(str(owner.pk))  # as the session holds it
        assert fields(user) == fields(orm)
        assert fields(user.profile) == fields(orm.profile)
        assert fields(user.profile.track) == fields(orm.profile.track)
        assert fields(user.memory_parameters) == fields(orm.memory_parameters)
        # Each object knows the one it was read through.
        assert user.profile.user is user
        assert user.memory_parameters.user is user
        assert user.memory_parameters.parameters == [0.4] * 21


def test_a_user_without_track_or_memory_parameters_reads_them_as_missing(
    owner: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        user = loaded(owner.pk)
        assert user.profile.track is None
        with pytest.raises(MemoryParameters.DoesNotExist):
            _ = user.memory_parameters


def test_an_unknown_inactive_or_malformed_user_is_nobody(owner: Any, other_user: Any) -> None:
    User.objects.filter(pk=other_user.pk).update(is_active=False)
    assert loaded(other_user.pk) is None
    assert loaded(owner.pk + 1000) is None
    assert loaded("1 OR 1=1") is None
    assert loaded(None) is None
    assert loaded(owner.pk).pk == owner.pk


def test_a_signed_in_request_sees_its_own_user_and_profile(owner: Any, other_user: Any) -> None:
    Profile.objects.filter(user=other_user).update(time_zone="Asia/Tokyo")
    client = Client()
    assert (
        client.post(reverse("login"), {"username": "olivia", "password": PASSWORD}).status_code
        == 302
    )
    response = client.get(reverse("profile"))
    assert response.status_code == 200
    assert response.wsgi_request.user.pk == owner.pk
    assert response.wsgi_request.user.profile.time_zone == "Europe/Berlin"
