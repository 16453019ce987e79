"""yarn 4 against a live Airlock: every flow in the yarn column of docs/clients.md.

One server for the module (each test uses its own users and package names). yarn only
publishes from a project it has installed, hence the `yarn install` before each publish.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pexpect
import pytest

from tests.support.clients import Yarn, ensure_yarn, module_server
from tests.support.otp import CodeSource, enrol_live
from tests.support.packages import make_package_dir
from tests.support.server import LiveServer
from tests.support.users import signup

STAGED = re.compile(r"run yarn npm stage approve ([0-9a-f-]{36}) to approve")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    ensure_yarn()
    with module_server(tmp_path_factory.mktemp("yarn-server")) as srv:
        yield srv


def yarn_user(server: LiveServer, tmp_path: Path, name: str | None) -> Yarn:
    client = Yarn(server.url, tmp_path / f"yarn-{name or 'anon'}")
    if name:
        client.set_token(signup(server.url, name))
    return client


def package(client: Yarn, root: Path, name: str, version: str) -> Path:
    folder = make_package_dir(root, name, version)
    client.ok("install", cwd=folder)
    return folder


def consumer(tmp_path: Path, name: str = "consumer") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "package.json").write_text(json.dumps({"name": name, "private": True}))
    return folder


def test_yarn_publishes_installs_and_refuses_republish(server: LiveServer, tmp_path: Path) -> None:
    alice = yarn_user(server, tmp_path, "yn-alice")
    folder = package(alice, tmp_path, "yn-pub", "1.0.0")
    assert "Package archive published" in alice.ok("npm", "publish", cwd=folder).output
    again = alice.run("npm", "publish", cwd=folder)
    assert again.code != 0
    assert "cannot publish over the previously published versions: 1.0.0" in again.output
    scoped = package(alice, tmp_path, "@yn-alice/open", "1.0.0")
    alice.ok("npm", "publish", "--access", "public", cwd=scoped)
    alice.ok("npm", "publish", cwd=package(alice, tmp_path, "@yn-alice/secret", "1.0.0"))

    anon = yarn_user(server, tmp_path, None)
    project = consumer(tmp_path)
    anon.ok("add", "yn-pub", "@yn-alice/open", cwd=project)
    assert (project / "node_modules" / "yn-pub" / "index.js").exists()
    assert (project / "node_modules" / "@yn-alice" / "open" / "package.json").exists()
    hidden = anon.run("add", "@yn-alice/secret", cwd=project)
    assert hidden.code != 0 and "404" in hidden.output
    private = consumer(tmp_path, "private-consumer")
    alice.ok("add", "@yn-alice/secret", cwd=private)
    assert (private / "node_modules" / "@yn-alice" / "secret" / "index.js").exists()


def test_yarn_default_age_gate_refuses_fresh_versions(server: LiveServer, tmp_path: Path) -> None:
    """What docs/clients.md tells yarn users to configure: `npmMinimalAgeGate` (one day by
    default) hides versions published in the last 24 hours."""
    bob = yarn_user(server, tmp_path, "yn-bob")
    bob.ok("npm", "publish", cwd=package(bob, tmp_path, "yn-fresh", "1.0.0"))
    gated = yarn_user(server, tmp_path, None)
    rc = gated.home / ".yarnrc.yml"
    rc.write_text("\n".join(ln for ln in rc.read_text().splitlines() if "AgeGate" not in ln))
    refused = gated.run("add", "yn-fresh", cwd=consumer(tmp_path))
    assert refused.code != 0 and "yn-fresh" in refused.output
    gated.write_rc()  # npmMinimalAgeGate: 0
    gated.ok("add", "yn-fresh", cwd=consumer(tmp_path, "ungated"))


def test_yarn_info_whoami_and_tags(server: LiveServer, tmp_path: Path) -> None:
    carol = yarn_user(server, tmp_path, "yn-carol")
    folder = package(carol, tmp_path, "yn-info", "1.0.0")
    carol.ok("npm", "publish", cwd=folder)
    assert "yn-carol" in carol.ok("npm", "whoami", cwd=folder).stdout
    info = json.loads(carol.ok("npm", "info", "yn-info", "--json", cwd=folder).stdout)
    assert info["name"] == "yn-info" and info["dist-tags"]["latest"] == "1.0.0"
    carol.ok("npm", "tag", "add", "yn-info@1.0.0", "beta", cwd=folder)
    assert "yn-info@beta → 1.0.0" in carol.ok("npm", "tag", "list", "yn-info", cwd=folder).stdout
    carol.ok("npm", "tag", "remove", "yn-info", "beta", cwd=folder)
    assert "beta" not in httpx.get(f"{server.url}/yn-info").json()["dist-tags"]


def test_yarn_stage_publish_list_approve_reject_with_otp(
    server: LiveServer, tmp_path: Path
) -> None:
    dana = yarn_user(server, tmp_path, "yn-dana")
    assert dana.token is not None
    secret, recovery = enrol_live(server.client(dana.token))
    codes = CodeSource(secret, current_used=True)
    first_dir = package(dana, tmp_path, "yn-s1", "1.0.0")
    first = STAGED.findall(dana.ok("npm", "publish", "--staged", cwd=first_dir).output)[0]
    second_dir = package(dana, tmp_path, "yn-s2", "1.0.0")
    second = STAGED.findall(dana.ok("npm", "publish", "--staged", cwd=second_dir).output)[0]
    listed = dana.ok("npm", "stage", "list", cwd=first_dir).stdout
    assert first in listed and second in listed
    assert httpx.get(f"{server.url}/yn-s1").status_code == 404  # staged: not installable

    refused = dana.run("npm", "stage", "approve", first, cwd=first_dir)
    assert refused.code != 0 and "not running in an interactive terminal" in refused.output
    # On a terminal yarn shows the web 2FA URL from `npm-notice`, offers to open it, then
    # prompts for the code (a TOTP code, or the one the browser page shows).
    child = dana.spawn("npm", "stage", "approve", first, cwd=first_dir)
    child.expect("Do you want to try to open this url now")
    child.sendline("n")
    child.expect("One-time password")
    child.sendline(codes.next())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "approved and published successfully" in child.before
    assert httpx.get(f"{server.url}/yn-s1").json()["dist-tags"]["latest"] == "1.0.0"
    rejected = dana.ok("npm", "stage", "reject", second, "--otp", recovery[0], cwd=second_dir)
    assert "has been rejected" in rejected.output
    # A plain publish with 2FA for writes, the code given up front.
    third = package(dana, tmp_path, "yn-otp", "1.0.0")
    dana.ok("npm", "publish", "--otp", recovery[1], cwd=third)
    assert httpx.get(f"{server.url}/yn-otp").status_code == 200


def test_yarn_refusals_name_yarn_commands(server: LiveServer, tmp_path: Path) -> None:
    erin = yarn_user(server, tmp_path, "yn-erin")
    made = server.client(erin.token).post(
        "/-/npm/v1/tokens", json={"password": "correct-horse-9", "permission": "stage-only"}
    )
    assert made.status_code in (200, 201), made.text
    erin.set_token(made.json()["token"])
    refused = erin.run("npm", "publish", cwd=package(erin, tmp_path, "yn-m", "1.0.0"))
    assert refused.code != 0
    assert "`yarn npm publish --staged`" in refused.output
    assert "`yarn npm stage approve <id>`" in refused.output


def _login(client: Yarn, name: str, password: str) -> tuple[int, str]:
    child = client.spawn("npm", "login")
    child.expect("Username")
    child.sendline(name)
    child.expect("Password")
    child.sendline(password)
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before


def test_yarn_login_with_a_wrong_name_creates_no_account(
    server: LiveServer, tmp_path: Path
) -> None:
    signup(server.url, "yn-frank")
    client = yarn_user(server, tmp_path, None)
    code, out = _login(client, "yn-frnak", "correct-horse-9")
    assert code != 0 and "Invalid authentication (attempted as yn-frnak)" in out
    assert httpx.get(f"{server.url}/-/user/org.couchdb.user:yn-frnak").status_code == 404
    code, out = _login(client, "yn-frank", "correct-horse-9")
    assert code == 0 and "Successfully logged in" in out
    assert "npmAuthToken" in (client.home / ".yarnrc.yml").read_text()
