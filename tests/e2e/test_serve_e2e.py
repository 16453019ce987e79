"""`airlock serve` as a user starts it: defaults, config file, environment, flags."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.support.server import free_port
from tests.support.users import signup


def _start(args, cwd, env=None):
    proc = subprocess.Popen(
        [sys.executable, "-m", "airlock", "serve", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_")},
            **(env or {}),
        },
    )
    return proc


def _wait(url, proc):
    deadline = (
        time.monotonic() + 90
    )  # the default is one worker process per core: each imports Airlock
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            if httpx.get(f"{url}/-/ping", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def test_serve_starts_on_embedded_defaults_and_prints_the_npmrc_line(tmp_path, npm_factory):
    port = free_port()
    proc = _start(["--port", str(port)], cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc)
        token = signup(url, "alice")
        assert httpx.get(
            f"{url}/-/whoami", headers={"authorization": f"Bearer {token}"}
        ).json() == {"username": "alice"}
    finally:
        out = _stop(proc)
    assert f"registry={url}/" in out
    # SQLite and the blob folder live under ./airlock-data by default; migrations ran.
    assert (tmp_path / "airlock-data" / "airlock.db").exists()
    assert (tmp_path / "airlock-data" / "blobs").is_dir()


def test_config_file_environment_and_flags_layer_in_that_order(tmp_path):
    file_port, env_port = free_port(), free_port()
    config = tmp_path / "airlock.toml"
    config.write_text(f'port = {file_port}\nopen_signup = false\ndata = "{tmp_path / "d"}"\n')
    proc = _start(["--config", str(config)], cwd=tmp_path, env={"AIRLOCK_PORT": str(env_port)})
    url = f"http://127.0.0.1:{env_port}"
    try:
        _wait(url, proc)
        resp = httpx.put(
            f"{url}/-/user/org.couchdb.user:bob",
            json={"name": "bob", "password": "correct-horse-9", "email": "bob@example.com"},
        )
        assert resp.status_code == 403  # open_signup = false came from the file
        assert "Sign-up is closed" in resp.json()["error"]
    finally:
        _stop(proc)
    assert (tmp_path / "d" / "airlock.db").exists()


def test_production_mode_without_a_secret_refuses_to_start(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "airlock", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AIRLOCK_DEVELOPMENT": "false"},
    )
    assert proc.returncode == 2
    assert "AIRLOCK_SECRET_KEY" in proc.stderr


def test_help_documents_every_setting():
    out = subprocess.run(
        [sys.executable, "-m", "airlock", "settings"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("AIRLOCK_DATABASE_URL", "AIRLOCK_OPEN_SIGNUP", "AIRLOCK_STAGE_EXPIRY_SECONDS"):
        assert name in out
    top = subprocess.run(
        [sys.executable, "-m", "airlock", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "airlock settings" in top and "serve" in top
