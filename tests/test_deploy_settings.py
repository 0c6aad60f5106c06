"""The production settings, as docker-compose.yml gives them, pass `check --deploy`."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose_environment() -> dict[str, str]:
    """The app's environment in docker-compose.yml, each ${VAR:-default} at its default."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = compose["x-app"]["environment"]

    def default(value: object) -> str:
        return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))

    return {name: default(value) for name, value in environment.items() if name != "SECRET_KEY"}


def check_deploy(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    keep = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **keep,
            **env,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "CADENCE_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_compose_environment_passes_check_deploy_with_no_warning(tmp_path: Path) -> None:
    env = compose_environment()
    assert env["DEBUG"] == "0"
    assert env["SECURE_COOKIES"] != "0"
    result = check_deploy(env, tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_the_bare_production_defaults_pass_check_deploy_with_no_warning(tmp_path: Path) -> None:
    result = check_deploy({"DEBUG": "0"}, tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_switching_the_redirect_off_for_plain_http_is_reported(tmp_path: Path) -> None:
    env = {**compose_environment(), "SECURE_SSL_REDIRECT": "0", "SECURE_COOKIES": "0"}
    result = check_deploy(env, tmp_path)
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout
