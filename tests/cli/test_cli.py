"""The smsproxy command, run as a person or a script would: as a subprocess."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import USE_POSTGRES
from tests.server import free_port, wait_until_healthy


def smsproxy(
    cwd: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "CARRIER"}}
    environment.pop("DATABASE_URL", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "smsproxy", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def test_help_lists_every_command(workdir: Path) -> None:
    result = smsproxy(workdir, "--help")
    assert result.returncode == 0
    for command in ("run", "worker", "db", "numbers", "users", "api-keys"):
        assert command in result.stdout


def test_numbers_add_list_remove(workdir: Path) -> None:
    added = smsproxy(workdir, "numbers", "add", "+44 7700 900100", "447700900101")
    assert added.returncode == 0, added.stderr
    assert "Added +447700900100 (GB)" in added.stderr
    listed = smsproxy(workdir, "numbers", "list")
    assert re.search(r"\+447700900100\s+GB\s+yes\s+0", listed.stdout)
    assert "+447700900101" in listed.stdout
    removed = smsproxy(workdir, "numbers", "remove", "+447700900100")
    assert removed.returncode == 0
    assert "+447700900100" not in smsproxy(workdir, "numbers", "list").stdout


def test_bad_number_is_one_line_and_nonzero(workdir: Path) -> None:
    result = smsproxy(workdir, "numbers", "add", "not-a-number")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "'not-a-number'" in result.stderr and "phone number" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("numbers", "frobnicate"), ("api-keys",), ("users", "create"), ("run", "--port", "x")],
)
def test_bad_arguments_are_one_line(workdir: Path, args: tuple[str, ...]) -> None:
    result = smsproxy(workdir, *args)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "error:" in result.stderr


def test_bad_settings_give_one_line_each(workdir: Path) -> None:
    result = smsproxy(
        workdir,
        "numbers",
        "list",
        env={"PORT": "seventy", "DATABASE_URL": "mysql://x/y", "SECRET_KEY": "a" * 40},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("smsproxy: configuration: PORT:") for line in lines)
    assert any(line.startswith("smsproxy: configuration: DATABASE_URL:") for line in lines)


def test_api_key_create_prints_only_the_key(workdir: Path) -> None:
    result = smsproxy(workdir, "api-keys", "create", "billing")
    assert result.returncode == 0
    key = result.stdout.strip()
    assert re.fullmatch(r"spx_[A-Za-z0-9_-]{40,}", key), result.stdout
    listed = smsproxy(workdir, "api-keys", "list").stdout
    assert key[:12] in listed and "billing" in listed and key not in listed
    revoked = smsproxy(workdir, "api-keys", "revoke", "billing")
    assert revoked.returncode == 0
    assert "revoked" in smsproxy(workdir, "api-keys", "list").stdout


def test_users_create_with_generated_and_given_password(workdir: Path) -> None:
    generated = smsproxy(workdir, "users", "create", "alice", "--role", "admin")
    assert generated.returncode == 0, generated.stderr
    assert len(generated.stdout.strip()) >= 12
    given = smsproxy(
        workdir, "users", "create", "bob", "--password-stdin", stdin="a long password 123\n"
    )
    assert given.returncode == 0 and given.stdout == ""
    again = smsproxy(workdir, "users", "create", "bob", stdin="")
    assert again.returncode == 1 and "already exists" in again.stderr
    listed = smsproxy(workdir, "users", "list").stdout
    # The Staff page's words: a generated password makes an invited account until its
    # owner chooses their own.
    assert re.search(r"alice\s+admin\s+invited\s+never", listed), listed
    assert re.search(r"bob\s+agent\s+active\s+never", listed), listed


def test_users_reset_password_prints_a_new_one_time_password(workdir: Path) -> None:
    created = smsproxy(workdir, "users", "create", "carol", stdin="")
    assert created.returncode == 0, created.stderr
    first = created.stdout.strip()
    reset = smsproxy(workdir, "users", "reset-password", "carol")
    assert reset.returncode == 0, reset.stderr
    second = reset.stdout.strip()
    assert len(second) >= 12 and second != first
    assert "one-time password" in reset.stderr
    missing = smsproxy(workdir, "users", "reset-password", "nobody")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "smsproxy: error: No staff user named 'nobody'"


@pytest.mark.skipif(USE_POSTGRES, reason="the embedded server's defaults are SQLite's")
def test_run_serves_and_prints_url_and_first_admin(workdir: Path) -> None:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "CARRIER"}}
    environment.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "smsproxy", "run", "--port", str(port)],
        cwd=workdir,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=environment,
    )

    def died() -> str | None:
        return None if process.poll() is None else f"smsproxy run exited with {process.returncode}"

    try:
        assert wait_until_healthy(f"http://127.0.0.1:{port}", 30, died), "no answer in 30 s"
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert f"running at http://localhost:{port}" in stderr
    # hypercorn's own line, once: not also through a second handler of its own.
    assert stderr.count(f"Running on http://127.0.0.1:{port}") == 1, stderr
    assert re.search(r"log in as 'admin' with the one-time password: \S{12,}", stderr)
    secret = workdir / "smsproxy.db.secret"
    assert secret.exists() and len(secret.read_text().strip()) >= 40
    # Admin commands afterwards keep the same secret and see the one admin it created.
    before = secret.read_text()
    listed = smsproxy(workdir, "users", "list").stdout
    assert listed.count("admin") == 2  # the username and its role, one user
    assert secret.read_text() == before


def test_run_on_a_busy_port_says_so_in_one_line(workdir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = smsproxy(workdir, "run", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"smsproxy: port {port} is already in use (127.0.0.1:{port}): stop what runs there, "
        f"or choose another port with --port {port + 1} or PORT={port + 1}"
    )
    # Refused before anything else: no "running at", no database with a first admin
    # whose one-time password nobody saw.
    assert not (workdir / "smsproxy.db").exists()


def test_api_key_names_are_unique_among_active_keys(workdir: Path) -> None:
    assert smsproxy(workdir, "api-keys", "create", "billing").returncode == 0
    again = smsproxy(workdir, "api-keys", "create", "billing")
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip() == (
        "smsproxy: error: An active API key is already named 'billing': choose another "
        "name, or revoke that key first"
    )
