"""Sign-up and password reset that answer the same whether or not an address has an
account: what differs goes to that address's inbox, never to the page.

A new address gets an account that stays inactive until its owner opens the link sent
there; an address that already has an account gets a notice instead (with a way to log in
or reset the password), and nothing is created. Both pages say "check your inbox".
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from prep.emails import email_render, site_url
from prep.services import user_create
from prep.tasks import deliver_email


def _send(*, template: str, user: User, context: dict[str, object]) -> None:
    rendered = email_render(
        template=template,
        context={"user": user, "profile_url": site_url(reverse("profile")), **context},
    )
    transaction.on_commit(
        lambda: deliver_email.delay(
            subject=rendered.subject, body=rendered.text, html=rendered.html, to=[user.email]
        )
    )


def activation_url(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return site_url(reverse("signup_activate", kwargs={"uidb64": uid, "token": token}))


def signup_request(*, username: str, email: str, password: str, time_zone: str) -> None:
    """Make an inactive account and send its activation link; or, when the address is
    already taken, tell that account (a repeat of an unfinished sign-up gets a new link)."""
    existing = get_user_model().objects.filter(email__iexact=email).order_by("pk").first()
    if existing is None:
        with transaction.atomic():
            user = user_create(
                username=username,
                email=email,
                password=password,
                time_zone=time_zone,
                is_active=False,
            )
            _send(template="signup_activate", user=user, context={"url": activation_url(user)})
        return
    # The same work as creating an account (a password hash), so the time taken does not
    # tell either.
    make_password(password)
    if not existing.is_active and existing.last_login is None:
        _send(template="signup_activate", user=existing, context={"url": activation_url(existing)})
    else:
        _send(
            template="signup_exists",
            user=existing,
            context={
                "login_url": site_url(reverse("login")),
                "reset_url": site_url(reverse("password_reset")),
            },
        )


def signup_activate(*, user: User, token: str) -> bool:
    """Activate the account the link was made for; False for a link that is not valid."""
    if user.is_active or not default_token_generator.check_token(user, token):
        return False
    user.is_active = True
    user.save(update_fields=["is_active"])
    return True
