"""Risk signals for a stage: pure functions over facts read from the two tarballs.

Every signal is {id, severity, reason}; each id appears at most once per stage (its reason
lists what raised it), so `npm stage view` prints one `key: value` line per signal. What
goes in comes from the tarballs (tarscan) and from rows the registry wrote itself (who
staged, trusted publisher, provenance), never from the JSON a client sent with the upload.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import semver

from airlock.stage.tarscan import FileFact, TarballFacts

HIGH, MEDIUM, LOW, INFO = "high", "medium", "low", "info"
SEVERITY_ORDER = {HIGH: 0, MEDIUM: 1, LOW: 2, INFO: 3}

# Lifecycle scripts that run code at install time (prepare: for git dependencies and
# `npm install` in a checkout).
INSTALL_SCRIPTS = ("preinstall", "install", "postinstall", "prepare")
DEPENDENCY_KINDS = (
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
)
# Specs that fetch code from outside any registry (npm-package-arg's git/remote/file types).
_OUTSIDE = re.compile(
    r"^(git\+|git:|github:|gitlab:|bitbucket:|gist:|https?:|file:|link:|\.{0,2}/|~/)"
    r"|^[A-Za-z0-9][\w.-]*/[\w.-]+(#.*)?$",  # GitHub shorthand user/repo
)
_UNUSUAL_NAMES = {".npmrc", ".yarnrc", ".yarnrc.yml", ".env", ".gitlab-ci.yml", ".travis.yml"}
_SECRET_NAMES = {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".netrc", ".pypirc"}
_UNUSUAL_DIRS = (".github/workflows/", ".circleci/", ".gitlab/")
_SHOWN = 5  # names listed in one reason before "and N more"
# Content changes worth a look: at least doubled or halved, and by a real amount.
SIZE_RATIO = 2.0
SIZE_MIN_BYTES = 64 * 1024
COUNT_RATIO = 1.5
COUNT_MIN_FILES = 10


@dataclass(frozen=True)
class Signal:
    id: str
    severity: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "severity": self.severity, "reason": self.reason}


@dataclass(frozen=True)
class Side:
    """One version as the registry holds it."""

    version: str
    facts: TarballFacts
    trusted_publisher: dict[str, Any] | None  # from the stored _npmUser (written by us)
    has_provenance: bool  # a .sigstore bundle is stored for it


@dataclass(frozen=True)
class Context:
    tag: str
    actor: str | None
    first_time_actor: bool  # this account never staged or published this package before
    # Added dependency names that no package on this registry has (dependency confusion).
    not_hosted: frozenset[str] = frozenset()
    hosted_scopes: frozenset[str] = frozenset()


def compute(staged: Side, compared: Side | None, context: Context) -> list[Signal]:
    found: list[Signal | None] = [
        *_install_time(staged, compared),
        *_dependencies(staged, compared, context),
        *_content(staged, compared),
        *_identity(staged, compared, context),
        *_version(staged, compared, context),
    ]
    signals = [s for s in found if s is not None]
    return sorted(signals, key=lambda s: SEVERITY_ORDER[s.severity])


def _listed(items: Iterable[str]) -> str:
    names = list(items)
    shown = ", ".join(names[:_SHOWN])
    return shown if len(names) <= _SHOWN else f"{shown} and {len(names) - _SHOWN} more"


def _signal(sid: str, severity: str, prefix: str, items: list[str]) -> Signal | None:
    return Signal(sid, severity, f"{prefix}: {_listed(items)}") if items else None


# -- install-time code ------------------------------------------------------------------


def _scripts(manifest: dict[str, Any]) -> dict[str, str]:
    scripts = manifest.get("scripts")
    if not isinstance(scripts, dict):
        return {}
    return {k: str(scripts[k]) for k in INSTALL_SCRIPTS if k in scripts}


def _bins(manifest: dict[str, Any]) -> dict[str, str]:
    raw = manifest.get("bin")
    if isinstance(raw, str):
        name = str(manifest.get("name", "")).rsplit("/", 1)[-1]
        return {name: raw}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    return {}


def _install_time(staged: Side, compared: Side | None) -> list[Signal | None]:
    now = staged.facts.manifest
    before = compared.facts.manifest if compared else {}
    scripts_now, scripts_before = _scripts(now), _scripts(before)
    added = [f"{k}: {v}" for k, v in scripts_now.items() if k not in scripts_before]
    changed = [
        f"{k}: {scripts_before[k]} -> {v}"
        for k, v in scripts_now.items()
        if k in scripts_before and scripts_before[k] != v
    ]
    gyp_before = compared is not None and "binding.gyp" in compared.facts.files
    bins_before = _bins(before)
    new_bins = [f"{k} -> {v}" for k, v in _bins(now).items() if bins_before.get(k) != v]
    return [
        _signal("install-script-added", HIGH, "new install-time script", added),
        _signal("install-script-changed", HIGH, "changed install-time script", changed),
        Signal(
            "binding-gyp-added",
            HIGH,
            "binding.gyp is new: npm compiles native code (node-gyp rebuild) on install",
        )
        if "binding.gyp" in staged.facts.files and not gyp_before
        else None,
        _signal("bin-added", MEDIUM, "new or changed command (bin)", new_bins),
    ]


# -- dependencies -----------------------------------------------------------------------


def dependencies(manifest: dict[str, Any]) -> dict[str, str]:
    """Every declared dependency as {"kind name": spec}."""
    found: dict[str, str] = {}
    for kind in DEPENDENCY_KINDS:
        value = manifest.get(kind)
        if isinstance(value, dict):
            found.update({f"{kind} {k}": str(v) for k, v in value.items()})
    for kind in ("bundleDependencies", "bundledDependencies"):
        value = manifest.get(kind)
        if isinstance(value, list):
            found.update({f"bundleDependencies {v}": "bundled" for v in value})
    return found


def outside_registry(spec: str) -> bool:
    """A git, URL, tarball-URL or local-path spec (npm fetches it from outside a registry)."""
    return bool(_OUTSIDE.match(spec.strip()))


def added_dependency_names(staged: dict[str, Any], compared: dict[str, Any]) -> set[str]:
    before = dependencies(compared)
    return {key.split(" ", 1)[1] for key in dependencies(staged) if key not in before}


def _dependencies(staged: Side, compared: Side | None, context: Context) -> list[Signal | None]:
    now = dependencies(staged.facts.manifest)
    before = dependencies(compared.facts.manifest) if compared else {}
    added = [f"{k}@{v}" for k, v in sorted(now.items()) if k not in before]
    removed = [k for k in sorted(before) if k not in now]
    changed = [
        f"{k} {before[k]} -> {v}" for k, v in sorted(now.items()) if k in before and before[k] != v
    ]
    outside = [f"{k}@{v}" for k, v in sorted(now.items()) if outside_registry(v)]
    confusable = sorted(
        n
        for n in context.not_hosted
        if n.startswith("@") and n.split("/")[0] in context.hosted_scopes
    )
    elsewhere = sorted(n for n in context.not_hosted if n not in confusable)
    return [
        _signal("dependency-outside-registry", HIGH, "git, URL or file dependency", outside),
        _signal(
            "dependency-confusable",
            HIGH,
            "new dependency in a scope hosted here but not on this registry",
            confusable,
        ),
        _signal("dependency-added", MEDIUM, "new dependency", added),
        _signal("dependency-new-to-registry", LOW, "new dependency not on this registry", elsewhere)
        if compared is not None
        else None,
        _signal("dependency-changed", LOW, "changed dependency range", changed),
        _signal("dependency-removed", LOW, "removed dependency", removed),
    ]


# -- content ----------------------------------------------------------------------------


def unusual(path: str) -> bool:
    base = posixpath.basename(path)
    return base in _UNUSUAL_NAMES or any(path.startswith(d) for d in _UNUSUAL_DIRS)


def secret_like(fact: FileFact) -> list[str]:
    kinds = list(fact.secrets)
    base = posixpath.basename(fact.path)
    if base in _SECRET_NAMES or base.endswith((".pem", ".key", ".p12", ".pfx")):
        kinds.append("key file name")
    return kinds


def _changed_or_new(staged: Side, compared: Side | None) -> list[FileFact]:
    before = compared.facts.files if compared else {}
    return [
        f for p, f in staged.facts.files.items() if p not in before or before[p].sha256 != f.sha256
    ]


def _content(staged: Side, compared: Side | None) -> list[Signal | None]:
    before = compared.facts.files if compared else {}
    touched = _changed_or_new(staged, compared)
    binaries = [
        f.path for f in touched if f.binary and not (f.path in before and before[f.path].binary)
    ]
    generated = [
        f"{f.path} ({_why_generated(f)})"
        for f in touched
        if f.generated and not (f.path in before and before[f.path].generated)
    ]
    secrets = [
        f"{f.path} ({', '.join(kinds)})"
        for f in staged.facts.files.values()
        if (kinds := secret_like(f))
    ]
    odd = [f.path for f in staged.facts.files.values() if unusual(f.path)]
    return [
        _signal("secret-file", HIGH, "looks like a secret", secrets),
        _signal(
            "generated-file-added", MEDIUM, "new minified or obfuscated-looking file", generated
        ),
        _signal("binary-file-added", MEDIUM, "new binary file", binaries),
        _signal("unusual-file", MEDIUM, "file that packages rarely ship", odd),
        *(_sizes(staged.facts, compared.facts) if compared else []),
    ]


def _why_generated(fact: FileFact) -> str:
    if fact.longest_line > 1000:
        return f"a {fact.longest_line}-character line"
    return f"entropy {fact.entropy:.1f} bits/byte"


def _ratio_changed(now: int, before: int, ratio: float, minimum: int) -> bool:
    if abs(now - before) < minimum:
        return False
    low, high = min(now, before), max(now, before)
    return low == 0 or high / low >= ratio


def _sizes(now: TarballFacts, before: TarballFacts) -> list[Signal | None]:
    size = (
        Signal(
            "size-changed",
            MEDIUM,
            f"unpacked size {before.unpacked_size} -> {now.unpacked_size} bytes",
        )
        if _ratio_changed(now.unpacked_size, before.unpacked_size, SIZE_RATIO, SIZE_MIN_BYTES)
        else None
    )
    count = (
        Signal("file-count-changed", LOW, f"file count {before.file_count} -> {now.file_count}")
        if _ratio_changed(now.file_count, before.file_count, COUNT_RATIO, COUNT_MIN_FILES)
        else None
    )
    return [size, count]


# -- identity and version ---------------------------------------------------------------


def _publisher(tp: dict[str, Any] | None) -> tuple[str, str] | None:
    if not tp:
        return None
    return (str(tp.get("id", "")), str(tp.get("oidcConfigId", "")))


def _identity(staged: Side, compared: Side | None, context: Context) -> list[Signal | None]:
    if compared is None:
        return []
    out: list[Signal | None] = []
    if context.first_time_actor:
        out.append(
            Signal(
                "first-time-stager",
                MEDIUM,
                f"{context.actor or 'this account'} never staged or published this package before",
            )
        )
    before, now = _publisher(compared.trusted_publisher), _publisher(staged.trusted_publisher)
    if before is not None and now != before:
        who = f"trusted publisher {now[0]} ({now[1]})" if now else "a person's credentials"
        out.append(
            Signal(
                "trusted-publisher-changed",
                HIGH,
                f"{compared.version} came from trusted publisher {before[0]} ({before[1]}); "
                f"this stage from {who}",
            )
        )
    if compared.has_provenance and not staged.has_provenance:
        out.append(
            Signal(
                "provenance-missing",
                HIGH,
                f"{compared.version} has provenance, this stage has none",
            )
        )
    return out


def _parse(version: str) -> semver.Version | None:
    try:
        return semver.Version.parse(version)
    except ValueError:
        return None


def _version(staged: Side, compared: Side | None, context: Context) -> list[Signal | None]:
    now = _parse(staged.version)
    out: list[Signal | None] = []
    if now is not None and now.prerelease and context.tag == "latest":
        out.append(
            Signal("prerelease-latest", MEDIUM, f"prerelease {staged.version} would become latest")
        )
    before = _parse(compared.version) if compared else None
    if now is not None and before is not None and now.major - before.major > 1:
        out.append(
            Signal(
                "major-jump",
                MEDIUM,
                f"{compared.version if compared else ''} -> {staged.version} skips a major version",
            )
        )
    return out
