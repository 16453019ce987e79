"""npm's rules for package names, versions and dist-tag names (validate-npm-package-name)."""

from __future__ import annotations

import re

import semver

from airlock.packages.errors import InvalidPackage

MAX_NAME = 214
# What encodeURIComponent leaves alone, minus ~'!()* which npm refuses in new names,
# and upper case (new names are lower case). A part may not start with "." or "_".
# Matched with fullmatch: `$` would also match before a trailing newline.
_PART = re.compile(r"[a-z0-9-][a-z0-9._-]*")
_RESERVED = frozenset({"node_modules", "favicon.ico"})
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# One comparator of a semver range: operator, then a partial version with x/*/X wildcards.
_NUM = r"(?:\d+|[xX*])"
_PARTIAL = rf"v?{_NUM}(?:\.{_NUM}(?:\.{_NUM}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)?)?"
_COMPARATOR = re.compile(rf"^(?:<=|>=|<|>|=|~>|~|\^)?\s*{_PARTIAL}$")


def validate_name(name: str) -> None:
    """Raise InvalidPackage unless `name` is a valid new npm package name."""
    problem = name_problem(name)
    if problem:
        raise InvalidPackage(f"Invalid package name {name!r}: {problem}.")


def name_problem(name: str) -> str | None:
    if not name:
        return "name is empty"
    if _CONTROL.search(name):
        return "name may not contain control characters"
    if len(name) > MAX_NAME:
        return f"name is longer than {MAX_NAME} characters"
    if name != name.strip():
        return "name has leading or trailing spaces"
    if name.lower() != name:
        return "name must be lower case"
    if ".." in name:
        return 'name may not contain ".."'
    if name.startswith("@"):
        scope, sep, rest = name[1:].partition("/")
        if not sep or not scope or not rest:
            return "a scoped name must look like @scope/name"
        parts = [scope, rest]
    else:
        parts = [name]
    for part in parts:
        if part.startswith((".", "_")):
            return 'name may not start with "." or "_"'
        if not _PART.fullmatch(part):
            return "name may only contain URL-safe characters (a-z, 0-9, '-', '.', '_')"
    if name in _RESERVED:
        return f"{name} is a reserved name"
    return None


def validate_version(version: str) -> None:
    if not isinstance(version, str) or not semver.Version.is_valid(version):
        raise InvalidPackage(f"Invalid version {version!r}: it must be valid semver (x.y.z).")


def is_semver_range(text: str) -> bool:
    """Approximates node-semver's validRange: npm refuses tags that parse as a range."""
    if not text.strip():
        return True
    for alternative in text.split("||"):
        alt = alternative.strip()
        if not alt:
            return True  # "" is "*"
        hyphen = re.split(r"\s+-\s+", alt)
        if len(hyphen) == 2 and all(_COMPARATOR.match(h.strip()) for h in hyphen):
            continue
        comparators = re.sub(r"(<=|>=|<|>|=|~>|~|\^)\s+", r"\1", alt).split()
        if not all(_COMPARATOR.match(c) for c in comparators):
            return False
    return True


def validate_tag(tag: str) -> None:
    if not isinstance(tag, str) or not tag:
        raise InvalidPackage("Tag name must not be empty.")
    if _CONTROL.search(tag):
        raise InvalidPackage(f"Invalid tag name {tag!r}: control characters are not allowed.")
    if is_semver_range(tag):
        raise InvalidPackage(
            f"Tag name {tag!r} must not be a valid semver version or range "
            "(npm would confuse it with a version)."
        )
    if not _TAG.fullmatch(tag):
        raise InvalidPackage(
            f"Invalid tag name {tag!r}: use letters, digits, '.', '_' or '-' (URL-safe)."
        )


def unscoped(name: str) -> str:
    # partition, not split()[1]: "@" alone (a path like /@/-/x.tgz) has no second part.
    return name.partition("/")[2] if name.startswith("@") else name


def scope_of(name: str) -> str | None:
    return name.partition("/")[0] if name.startswith("@") else None


def tarball_filename(name: str, version: str) -> str:
    return f"{unscoped(name)}-{version}.tgz"


def tarball_url(base_url: str, name: str, version: str) -> str:
    return f"{base_url}/{name}/-/{tarball_filename(name, version)}"


def version_from_filename(name: str, filename: str) -> str | None:
    """The version a tarball file name refers to, or None if it is not one of ours."""
    prefix = unscoped(name) + "-"
    if not filename.startswith(prefix) or not filename.endswith(".tgz"):
        return None
    return filename[len(prefix) : -len(".tgz")] or None
