"""What a reviewer should look at before approving: install scripts and dependency changes
against the version currently tagged `latest`. Pure functions over manifests, which are
the tarball's own package.json as npm normalises it (packages/manifest.py), so a
binding.gyp shows up as its `install: node-gyp rebuild` script.

npm prints stage items as `key: value` lines, so every summary is one line of text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airlock.packages.manifest import INSTALL_SCRIPTS

DEPENDENCY_FIELDS = ("dependencies", "optionalDependencies", "peerDependencies")
NONE = "none"


@dataclass(frozen=True)
class Review:
    compared_to: str | None  # the published version compared against (None: a new package)
    install_scripts: str
    new_dependencies: str
    changed_dependencies: str


def review(staged: dict[str, Any], previous: dict[str, Any] | None) -> Review:
    prev = previous or {}
    return Review(
        compared_to=prev.get("version") if previous else None,
        install_scripts=_install_scripts(staged, prev),
        new_dependencies=_new_dependencies(_deps(staged), _deps(prev)),
        changed_dependencies=_changed_dependencies(_deps(staged), _deps(prev)),
    )


def _scripts(manifest: dict[str, Any]) -> dict[str, str]:
    scripts = manifest.get("scripts")
    if not isinstance(scripts, dict):
        return {}
    found = {k: str(scripts[k]) for k in INSTALL_SCRIPTS if k in scripts}
    # npm runs `node-gyp rebuild` for a binding.gyp without an explicit install script.
    if manifest.get("gypfile") and "install" not in found:
        found["install"] = "node-gyp rebuild"
    return found


def _install_scripts(staged: dict[str, Any], prev: dict[str, Any]) -> str:
    now, before = _scripts(staged), _scripts(prev)
    if not now:
        return NONE
    parts = []
    for name, command in now.items():
        mark = (
            "" if before.get(name) == command else " (new)" if name not in before else " (changed)"
        )
        parts.append(f"{name}: {command}{mark}")
    return "; ".join(parts)


def _deps(manifest: dict[str, Any]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for field in DEPENDENCY_FIELDS:
        value = manifest.get(field)
        if isinstance(value, dict):
            merged.update({str(k): str(v) for k, v in value.items()})
    return merged


def _new_dependencies(now: dict[str, str], before: dict[str, str]) -> str:
    added = [f"{name}@{spec}" for name, spec in sorted(now.items()) if name not in before]
    return ", ".join(added) or NONE


def _changed_dependencies(now: dict[str, str], before: dict[str, str]) -> str:
    changed = [
        f"{name} {before[name]} -> {spec}"
        for name, spec in sorted(now.items())
        if name in before and before[name] != spec
    ]
    return ", ".join(changed) or NONE
