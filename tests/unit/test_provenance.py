"""Provenance checks on REAL Sigstore bundles (tests/fixtures/provenance/README.md).

No real npm bundle can be recorded here (Sigstore is not reachable), so the real bundles
are PyPI publish attestations from GitHub Actions and from a staging identity. They show
what verification achieves offline: the certificate chain, the Rekor entry (inclusion
proof + signed entry timestamp) and the DSSE signature check out against the embedded
trust root, and the subject check then refuses them because they are not about an npm
tarball. The subject logic itself is tested on crafted statements and tarballs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from airlock.stage import provenance as prov
from airlock.stage.signals import HIGH, MEDIUM

FIXTURES = Path(__file__).parent.parent / "fixtures" / "provenance"
GITHUB_BUNDLE = (FIXTURES / "github-actions.sigstore.json").read_bytes()
STAGING_BUNDLE = (FIXTURES / "rfc8785-0.1.2.sigstore.json").read_bytes()
STAGING_ROOT = FIXTURES / "staging-trusted-root.json"
TRUST = prov.Trust(
    "github",
    {"repository": "trailofbits/pypi-attestation-models", "workflow_ref": {"file": "release.yml"}},
)
TARBALL = b"not the attested file"


def examine(bundle: bytes, trust: list[prov.Trust] | None = None, **kw) -> prov.Check:
    return prov.examine(bundle, TARBALL, "pkg-a", "1.0.0", trust or [], **kw)


def test_a_real_github_bundle_verifies_offline_but_is_not_about_this_package():
    result = examine(GITHUB_BUNDLE, [TRUST])
    # sigstore-python accepted chain, transparency log entry and signature, offline.
    assert result.signature_verified is True
    # ...and the subject check refuses it: it attests a PyPI sdist, not pkg:npm/pkg-a.
    assert result.verified is False
    assert result.subject_matches is False
    assert result.reason == (
        "the statement is about 'pypi_attestation_models-0.0.4a2.tar.gz', not pkg:npm/pkg-a@1.0.0"
    )
    assert result.verdict == f"not verified ({result.reason})"
    assert result.identity == prov.Identity(
        issuer="https://token.actions.githubusercontent.com",
        repository="https://github.com/trailofbits/pypi-attestation-models",
        workflow="https://github.com/trailofbits/pypi-attestation-models/.github/workflows/release.yml@refs/tags/v0.0.4a2",
        ref="refs/tags/v0.0.4a2",
        commit="153c9a3f5c152ef5405cba227676534658acde27",
        run="https://github.com/trailofbits/pypi-attestation-models/actions/runs/9454590800/attempts/1",
    )
    assert result.predicate_type == "https://docs.pypi.org/attestations/publish/v1"
    assert result.matches_trust is True
    assert [(s.id, s.severity) for s in prov.signals(result)] == [
        ("provenance-subject-mismatch", HIGH)
    ]


def _tamper_signature(bundle: bytes) -> bytes:
    doc = json.loads(bundle)
    sig = bytearray(base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"]))
    sig[-1] ^= 0x01
    doc["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    return json.dumps(doc).encode()


def _tamper_payload(bundle: bytes) -> bytes:
    doc = json.loads(bundle)
    payload = base64.b64decode(doc["dsseEnvelope"]["payload"])
    payload = payload.replace(b"c9709ce6", b"c9709ce7")  # one hex digit of the digest
    doc["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()
    return json.dumps(doc).encode()


@pytest.mark.parametrize("tamper", [_tamper_signature, _tamper_payload])
def test_a_tampered_bundle_is_not_verified_with_the_reason(tamper):
    result = examine(tamper(GITHUB_BUNDLE), [TRUST])
    assert result.signature_verified is False and result.verified is False
    assert result.reason is not None and result.reason.startswith("verification failed: ")
    assert result.verdict.startswith("not verified (verification failed: ")
    # The certificate is still read for the reviewer, but the stage is flagged.
    assert result.identity.repository == "https://github.com/trailofbits/pypi-attestation-models"


def test_a_bundle_from_another_trust_root_is_not_verified():
    # Signed by Sigstore's staging instance: the public-good root does not vouch for it.
    result = examine(STAGING_BUNDLE)
    assert result.signature_verified is False
    assert result.reason == (
        "verification failed: failed to build timestamp certificate chain: "
        "validation failed: candidates exhausted: signature does not match"
    )


def test_a_configured_trust_root_is_used_instead_of_the_embedded_one():
    result = examine(STAGING_BUNDLE, trusted_root=STAGING_ROOT)
    assert result.signature_verified is True
    assert result.identity.issuer == "https://github.com/login/oauth"
    assert result.identity.repository is None  # a person's identity, no build facts
    assert result.matches_trust is None  # and no trust relationship to compare with


def test_an_unreadable_trust_root_is_a_reason_not_an_error(tmp_path):
    broken = tmp_path / "root.json"
    broken.write_text("{}")
    result = examine(GITHUB_BUNDLE, trusted_root=broken)
    assert not result.signature_verified
    assert result.reason is not None and result.reason.startswith("the trust root cannot be loaded")


@pytest.mark.parametrize(
    ("bundle", "reason"),
    [
        (b"[1]", "the bundle is not a JSON object"),
        (b"not json", "the bundle is not JSON"),
        (
            b"x" * (prov.MAX_BUNDLE_BYTES + 1),
            f"the bundle is larger than {prov.MAX_BUNDLE_BYTES} bytes",
        ),
    ],
)
def test_what_is_no_bundle_at_all_says_so(bundle, reason):
    result = examine(bundle)
    assert result.present and not result.verified and result.reason == reason


def test_a_json_object_that_is_no_sigstore_bundle_is_unsupported():
    result = examine(
        json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}).encode()
    )
    assert not result.verified
    assert result.reason is not None and result.reason.startswith("unsupported or malformed bundle")
    assert [s.id for s in prov.signals(result)] == ["provenance-not-verified"]
    assert prov.signals(result)[0].severity == MEDIUM


def test_no_bundle_is_none_and_raises_nothing():
    assert prov.NONE.verdict == "none"
    assert prov.NONE.view_fields() == {"provenance": "none"}
    assert prov.signals(prov.NONE) == []


# -- the subject: derived from the tarball bytes --------------------------------------------


def _statement(name: str, sha512: str) -> dict[str, object]:
    return {"subject": [{"name": name, "digest": {"sha512": sha512}}]}


def test_the_subject_must_be_this_version_and_these_bytes():
    tarball = b"\x1f\x8b real bytes"
    digest = hashlib.sha512(tarball).hexdigest()
    purl = "pkg:npm/%40scope/pkg@1.2.3"
    assert prov.purl("@scope/pkg", "1.2.3") == purl
    assert prov.subject_problem(_statement(purl, digest), tarball, "@scope/pkg", "1.2.3") is None
    assert (
        prov.subject_problem(_statement(purl, digest.upper()), tarball, "@scope/pkg", "1.2.3")
        is None
    )
    assert (
        prov.subject_problem(_statement(purl, digest), tarball + b"!", "@scope/pkg", "1.2.3")
        == "the statement's sha512 is not the stored tarball's"
    )
    assert prov.subject_problem(_statement(purl, digest), tarball, "@scope/pkg", "1.2.4") == (
        f"the statement is about '{purl}', not pkg:npm/%40scope/pkg@1.2.4"
    )
    assert (
        prov.subject_problem({"subject": []}, tarball, "p", "1.0.0")
        == "the statement names no subject"
    )
    no_sha = {"subject": [{"name": "pkg:npm/p@1.0.0", "digest": {"sha256": "ab"}}]}
    assert prov.subject_problem(no_sha, tarball, "p", "1.0.0") == (
        "the statement's subject has no sha512 digest"
    )


# -- the certificate's identity against the trust relationships ------------------------------


@pytest.mark.parametrize(
    ("claims", "provider", "matches"),
    [
        (TRUST.claims, "github", True),
        (
            {
                "repository": "TrailOfBits/PyPI-Attestation-Models",
                "workflow_ref": {"file": "release.yml"},
            },
            "github",
            True,
        ),
        (
            {
                "repository": "mallory/pypi-attestation-models",
                "workflow_ref": {"file": "release.yml"},
            },
            "github",
            False,
        ),
        (
            {
                "repository": "trailofbits/pypi-attestation-models",
                "workflow_ref": {"file": "other.yml"},
            },
            "github",
            False,
        ),
        (
            {
                "project_path": "trailofbits/pypi-attestation-models",
                "ci_config_ref_uri": {"file": ".gitlab-ci.yml"},
            },
            "gitlab",
            False,
        ),
    ],
)
def test_the_certificate_is_compared_with_the_trust_relationships(claims, provider, matches):
    result = examine(GITHUB_BUNDLE, [prov.Trust(provider, claims)])
    assert result.matches_trust is matches
    ids = [s.id for s in prov.signals(result)]
    assert ("provenance-other-repository" in ids) is (not matches)


def test_another_repository_is_a_high_signal_naming_it():
    other = prov.Trust(
        "github", {"repository": "alice/pkg", "workflow_ref": {"file": "release.yml"}}
    )
    result = examine(GITHUB_BUNDLE, [other, prov.Trust("circleci", {})])
    [signal] = [s for s in prov.signals(result) if s.id == "provenance-other-repository"]
    assert signal.severity == HIGH
    assert "https://github.com/trailofbits/pypi-attestation-models" in signal.reason
    fields = result.view_fields()
    assert fields["provenanceMatchesTrust"] == "no"
    assert (
        fields["provenanceRepository"] == "https://github.com/trailofbits/pypi-attestation-models"
    )
    assert fields["provenanceRef"] == "refs/tags/v0.0.4a2"
    assert fields["provenanceWorkflow"].endswith(
        "/.github/workflows/release.yml@refs/tags/v0.0.4a2"
    )


def test_only_uncomparable_relationships_are_no_answer():
    assert examine(GITHUB_BUNDLE, [prov.Trust("circleci", {})]).matches_trust is None


def _paths(node: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*path, i))
    return out


def test_a_damaged_bundle_never_raises_and_never_verifies():
    """Every field of the real bundle deleted or given a wrong type, one at a time."""
    original = json.loads(GITHUB_BUNDLE)
    for path in _paths(original)[1:]:
        for replacement in (None, 7, "x", [], {}, "delete"):
            doc = json.loads(GITHUB_BUNDLE)
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            if replacement == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = replacement
            result = examine(json.dumps(doc).encode(), [TRUST])
            assert result.present and not result.verified and result.reason, (path, replacement)
