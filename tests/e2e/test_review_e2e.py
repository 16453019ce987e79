"""Review against a live server with the real npm CLI: risk lines and the diff."""

from __future__ import annotations

import re

import httpx

from tests.support.packages import make_package_dir
from tests.support.users import signup

STAGED = re.compile(r"staged with id ([0-9a-f-]{36})")


def test_stage_view_prints_risk_signals_and_the_diff_is_json(server, npm_factory, tmp_path):
    token = signup(server.url, "alice")
    alice = npm_factory(server, "alice", token)
    alice.ok("publish", cwd=make_package_dir(tmp_path, "app-r", "1.0.0"))
    staged = make_package_dir(
        tmp_path / "next",
        "app-r",
        "1.1.0",
        scripts={"postinstall": "node collect.js"},
        dependencies={"left-pad": "git+https://example.com/left-pad.git"},
    )
    (staged / "index.js").write_text("module.exports = 'changed';\n")
    # npm never packs .npmrc itself; a workflow file it does pack.
    (staged / ".github" / "workflows").mkdir(parents=True)
    (staged / ".github" / "workflows" / "x.yml").write_text("on: push\n")
    [stage_id] = STAGED.findall(alice.ok("stage", "publish", cwd=staged).output)
    view = alice.ok("stage", "view", stage_id).stdout
    assert re.search(r"riskSignals: \d+ high", view), view
    assert (
        "risk install-script-added: [high] new install-time script: postinstall: node collect.js"
        in view
    )
    assert "risk dependency-outside-registry: [high]" in view
    assert (
        "risk unusual-file: [medium] file that packages rarely ship: .github/workflows/x.yml"
        in view
    )
    assert "[object Object]" not in view

    auth = {"authorization": f"Bearer {token}"}
    signals = httpx.get(f"{server.url}/-/airlock/v1/stage/{stage_id}/signals", headers=auth).json()
    assert signals["comparedTo"] == "1.0.0"
    ids = [s["id"] for s in signals["signals"]]
    assert "install-script-added" in ids and "unusual-file" in ids
    assert all(set(s) == {"id", "severity", "reason"} for s in signals["signals"])
    diff = httpx.get(f"{server.url}/-/stage/{stage_id}/diff", headers=auth).json()
    by_path = {f["path"]: f for f in diff["files"]}
    assert by_path["index.js"]["status"] == "changed"
    assert "+module.exports = 'changed';" in by_path["index.js"]["diff"]
    assert by_path[".github/workflows/x.yml"]["status"] == "added"
    print(view)
    assert diff["files"][0]["path"] == "package.json"  # metadata first
