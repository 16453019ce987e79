"""The manifest Airlock stores, serves and shows reviewers: the tarball's own package.json.

npm installs and runs what the tarball holds (its package.json scripts, its binding.gyp,
its bin links), not what the JSON around the tarball says. So the stored version document
is built from `package/package.json` inside the tarball, with the normalisations npm
itself applies that change what runs at install time (a binding.gyp means
`node-gyp rebuild`; `bin` as a string or a `directories.bin` folder means bin links), and
with the fields only the registry decides (`hasInstallScript`, `_hasShrinkwrap`, `dist`,
`_npmUser`, ...) computed here or added later, never taken from the client. The publish
body's copy of the manifest is used only to check that it names the same package and
version, and for a few descriptive fields the tarball's package.json never holds
(`readme`, `gitHead`, the client's versions).
"""

from __future__ import annotations

import posixpath
from typing import Any

import orjson

from airlock.packages.errors import InvalidPackage
from airlock.packages.names import unscoped
from airlock.packages.tarball import TarballContents

# Lifecycle scripts npm runs when the package is installed as a dependency.
INSTALL_SCRIPTS = ("preinstall", "install", "postinstall")
# Deeper than any real package.json; far below the 255 levels the packument encoder allows
# once the document wraps each manifest (so whatever is staged can also be approved).
MAX_DEPTH = 64
# Keys the registry owns: whatever a client (body or tarball) says for them is dropped.
REGISTRY_KEYS = frozenset(
    {
        "_id",
        "dist",
        "_npmUser",
        "maintainers",
        "_attachments",
        "_rev",
        "deprecated",
        "hasInstallScript",
        "_hasShrinkwrap",
        "_resolved",
        "_integrity",
        "_from",
        "_shasum",
        "_inBundle",
        "_where",
        "_requested",
        "_spec",
        "_nodeVersion",
        "_npmVersion",
        "_npmOperationalInternal",
    }
)
# Descriptive fields npm adds to the body that are not in package.json and run nothing.
_FROM_BODY = ("readme", "readmeFilename", "gitHead", "_nodeVersion", "_npmVersion")


def parse_json(raw: bytes | str, what: str) -> Any:
    """orjson (which refuses nesting past 1024 levels) plus Airlock's own depth limit."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidPackage(f"{what} is not valid JSON: {exc}") from exc
    check_depth(value, what)
    return value


def check_depth(value: Any, what: str, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            raise InvalidPackage(f"{what} is nested more than {limit} levels deep.")
        stack.extend((child, depth + 1) for child in children)


def tarball_manifest(
    contents: TarballContents, name: str, version: str, body_manifest: dict[str, Any]
) -> dict[str, Any]:
    """The version document from the tarball's package.json (see the module docstring)."""
    meta = parse_json(contents.package_json, "package/package.json in the tarball")
    if not isinstance(meta, dict) or meta.get("name") != name or meta.get("version") != version:
        got = f"{meta.get('name')}@{meta.get('version')}" if isinstance(meta, dict) else "?"
        raise InvalidPackage(
            f"package.json in the tarball is for {got}, but the publish is for {name}@{version}."
        )
    manifest = {k: v for k, v in meta.items() if k not in REGISTRY_KEYS}
    for key in _FROM_BODY:
        if isinstance(body_manifest.get(key), str):
            manifest[key] = body_manifest[key]
    _normalise_gyp(manifest, contents)
    _normalise_bin(manifest, contents)
    manifest["name"] = name
    manifest["version"] = version
    manifest["_id"] = f"{name}@{version}"
    if has_install_script(manifest, contents):
        manifest["hasInstallScript"] = True
    manifest["_hasShrinkwrap"] = "npm-shrinkwrap.json" in contents.files
    return manifest


def has_install_script(manifest: dict[str, Any], contents: TarballContents) -> bool:
    """npm runs something at install: a lifecycle script, or node-gyp for a binding.gyp."""
    scripts = manifest.get("scripts")
    if isinstance(scripts, dict) and any(scripts.get(s) for s in INSTALL_SCRIPTS):
        return True
    # Counted even with `gypfile: false`: the file is there, and older clients build it.
    return "binding.gyp" in contents.entries


def _normalise_gyp(manifest: dict[str, Any], contents: TarballContents) -> None:
    # @npmcli/package-json (what `npm publish` and `npm install` read package.json with):
    # a binding.gyp and no install/preinstall script means `install: node-gyp rebuild`.
    if "binding.gyp" not in contents.entries or manifest.get("gypfile") is False:
        return
    scripts = manifest.get("scripts")
    scripts = dict(scripts) if isinstance(scripts, dict) else {}
    if not scripts.get("install") and not scripts.get("preinstall"):
        scripts["install"] = "node-gyp rebuild"
        manifest["scripts"] = scripts
        manifest["gypfile"] = True


def _normalise_bin(manifest: dict[str, Any], contents: TarballContents) -> None:
    """`bin` as npm links it: a string means one command named after the package, and
    without `bin` every file of `directories.bin` becomes a command."""
    name = str(manifest.get("name", ""))
    bin_field = manifest.get("bin")
    if isinstance(bin_field, str):
        manifest["bin"] = {unscoped(name): bin_field}
        return
    if bin_field is not None:
        return
    directories = manifest.get("directories")
    folder = directories.get("bin") if isinstance(directories, dict) else None
    if not isinstance(folder, str):
        return
    prefix = posixpath.normpath(folder.lstrip("./") or ".") + "/"
    links = {
        posixpath.basename(path): path
        for path in sorted(contents.files)
        if path.startswith(prefix) and "/" not in path[len(prefix) :]
    }
    if links:
        manifest["bin"] = links
