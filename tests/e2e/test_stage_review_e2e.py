"""`npm stage view` shows a reviewer install scripts and dependency changes."""

from __future__ import annotations

import re

from tests.support.packages import make_package_dir
from tests.support.users import signup

STAGED = re.compile(r"staged with id ([0-9a-f-]{36})")


def test_stage_view_flags_new_install_scripts_and_dependencies(server, npm_factory, tmp_path):
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "lib-x", "1.0.0"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "lib-y", "1.0.0"))
    alice.ok(
        "publish",
        cwd=make_package_dir(tmp_path, "app-z", "1.0.0", dependencies={"lib-x": "^1.0.0"}),
    )
    staged = make_package_dir(
        tmp_path / "next",
        "app-z",
        "1.1.0",
        dependencies={"lib-x": "~1.0.0", "lib-y": "^1.0.0"},
        scripts={"postinstall": "node collect.js"},
    )
    [stage_id] = STAGED.findall(alice.ok("stage", "publish", cwd=staged).output)
    view = alice.ok("stage", "view", stage_id).stdout
    assert "comparedTo: 1.0.0" in view, view
    assert "installScripts: postinstall: node collect.js (new)" in view
    assert "newDependencies: lib-y@^1.0.0" in view
    assert "changedDependencies: lib-x ^1.0.0 -> ~1.0.0" in view
