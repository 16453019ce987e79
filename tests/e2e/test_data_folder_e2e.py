"""The data folder: a generated secret key (0600) instead of a public one, private folders
and blobs (issue #8.24), and `airlock backup` with the documented restore (issue #13.4)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from tests.support.otp import enrol_live
from tests.support.packages import make_package_dir, publish_body
from tests.support.server import LiveServer, free_port
from tests.support.users import signup


def _mode(path) -> int:  # type: ignore[no-untyped-def]
    return stat.S_IMODE(os.stat(path).st_mode)


def test_first_start_generates_a_private_key_and_private_folders(server_factory):
    server = server_factory(env={"AIRLOCK_SECRET_KEY": ""})
    token = signup(server.url, "alice")
    assert server.client(token).put("/priv", json=publish_body("priv", "1.0.0")).status_code == 201
    key_file = server.data / "secret-key"
    key = key_file.read_text().strip()
    assert len(key) >= 40 and "development" not in key
    assert _mode(key_file) == 0o600
    assert _mode(server.data) == 0o700
    blobs = list((server.data / "blobs").rglob("*.tgz"))
    assert blobs and all(_mode(p) & 0o077 == 0 for p in blobs)
    for folder in [
        server.data / "blobs",
        *(p for p in (server.data / "blobs").rglob("*") if p.is_dir()),
    ]:
        assert _mode(folder) == 0o700, folder
    # The key survives restarts: a 2FA secret written before decrypts after.
    _, codes = enrol_live(server.client(token))
    server.stop()
    server.start()
    assert key_file.read_text().strip() == key
    staged = server.client(token).post("/-/stage/package/priv", json=publish_body("priv", "1.1.0"))
    approved = server.client(token).post(
        f"/-/stage/{staged.json()['stageId']}/approve", headers={"npm-otp": codes.pop()}
    )
    assert approved.status_code == 201, approved.text


def test_a_public_host_without_a_secret_key_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AIRLOCK_SECRET_KEY"}
    proc = subprocess.run(
        [sys.executable, "-m", "airlock", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert "--host 0.0.0.0 listens beyond this machine" in proc.stderr
    assert "AIRLOCK_SECRET_KEY" in proc.stderr and "secrets.token_urlsafe" in proc.stderr
    assert not (tmp_path / "airlock-data").exists()  # refused before anything was created


def test_backup_and_restore_of_a_sqlite_installation(server_factory, npm_factory, tmp_path):
    server = server_factory()
    if not server.database_url.startswith("sqlite"):
        refused = server.cli("backup", str(tmp_path / "pg-backup"))
        assert refused.returncode == 2 and "pg_dump" in refused.stderr
        return
    token = signup(server.url, "alice")
    alice = npm_factory(server, "alice", token)
    alice.ok("publish", cwd=make_package_dir(tmp_path, "kept-pkg", "1.0.0"))
    _, codes = enrol_live(server.client(token))
    # A backup of the running server.
    dest = tmp_path / "backup"
    done = server.cli("backup", str(dest))
    assert done.returncode == 0, done.stderr
    assert "1 blob(s)" in done.stderr
    assert {p.name for p in dest.iterdir()} >= {"airlock.db", "blobs", "backup.json", "secret-key"}
    again = server.cli("backup", str(dest))
    assert again.returncode == 2 and "is not empty" in again.stderr
    server.stop()
    # Restore as documented: the three items into a fresh data folder.
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    for name in ("airlock.db", "blobs", "secret-key"):
        os.rename(dest / name, restored / name)
    srv = LiveServer(restored, f"sqlite:///{restored / 'airlock.db'}").start()
    try:
        app = tmp_path / "app"
        app.mkdir()
        (app / "package.json").write_text('{"name": "app", "version": "1.0.0"}')
        npm_factory(srv, "anon").ok("install", "kept-pkg@1.0.0", cwd=app)
        assert (app / "node_modules/kept-pkg/package.json").exists()
        # Two-factor secrets still decrypt: the key came along.
        staged = srv.client(token).post(
            "/-/stage/package/kept-pkg", json=publish_body("kept-pkg", "1.1.0")
        )
        assert staged.status_code == 201, staged.text
        approved = srv.client(token).post(
            f"/-/stage/{staged.json()['stageId']}/approve", headers={"npm-otp": codes.pop()}
        )
        assert approved.status_code == 201, approved.text
    finally:
        srv.stop()
