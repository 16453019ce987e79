"""What a stored provenance bundle proves about a version, for the reviewer.

A version's `.sigstore` attachment is a Sigstore bundle (v0.3 JSON: a Fulcio certificate,
a DSSE envelope holding an in-toto statement, and a Rekor entry with its inclusion proof
and signed entry timestamp). Three separate questions, answered separately:

1. Is it genuine? sigstore-python verifies the certificate chain against the configured
   trust root (default: the public-good root embedded in sigstore-python, read offline),
   the signed entry timestamp and the inclusion proof of the Rekor entry, the DSSE
   signature, and that the log entry records this envelope. Nothing here touches the
   network. Any failure is "not verified" with the reason, never "valid".
2. Is it about THIS tarball? The statement's subject must be `pkg:npm/<name>@<version>`
   with the sha512 of the stored tarball bytes (hashed here, never taken from a claim).
3. Did it come from where the package expects? The certificate names the repository,
   workflow and ref (Fulcio extensions 1.3.6.1.4.1.57264.1.*); they are compared with the
   package's trust relationships (the same rules `npm trust` configured).

The CPU work (X.509, ECDSA, Merkle proof, sha512) runs in a worker thread.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from airlock.lazy import lazy_module
from airlock.stage.signals import HIGH, MEDIUM, Signal

if TYPE_CHECKING:
    from cryptography import x509
else:  # loaded on first use (~10 MiB per process); only provenance checks need it
    x509 = lazy_module("cryptography.x509")

log = logging.getLogger("airlock.provenance")

# The largest bundle looked at (npm's are ~10 KiB; uploads are bounded by
# max_provenance_bytes, this also covers bundles stored before that limit existed).
MAX_BUNDLE_BYTES = 1024 * 1024
IN_TOTO = "application/vnd.in-toto+json"

# Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
_OID = "1.3.6.1.4.1.57264.1."
ISSUER_V1, ISSUER = _OID + "1", _OID + "8"
REPOSITORY_V1 = _OID + "5"  # GitHub "owner/repo" (deprecated, raw bytes)
REF_V1 = _OID + "6"
SOURCE_REPOSITORY_URI = _OID + "12"
SOURCE_REPOSITORY_DIGEST = _OID + "13"
SOURCE_REPOSITORY_REF = _OID + "14"
BUILD_CONFIG_URI = _OID + "18"
RUN_INVOCATION_URI = _OID + "21"


@dataclass(frozen=True)
class Identity:
    """What the signing certificate says about the build (claims until verified)."""

    issuer: str | None = None
    repository: str | None = None  # source repository URI, e.g. https://github.com/o/r
    workflow: str | None = None  # build config URI, e.g. .../.github/workflows/x.yml@ref
    ref: str | None = None
    commit: str | None = None
    run: str | None = None


@dataclass(frozen=True)
class Check:
    """The answer for one version. `verified` is True only when every step passed."""

    present: bool
    verified: bool = False
    reason: str | None = None  # why not verified
    # The sigstore step alone (certificate chain, Rekor entry, DSSE signature) passed.
    signature_verified: bool = False
    identity: Identity = field(default_factory=Identity)
    predicate_type: str | None = None
    subject_matches: bool | None = None  # None: the statement could not be read
    subject_problem: str | None = None
    matches_trust: bool | None = None  # None: no comparable trust relationship

    @property
    def verdict(self) -> str:
        if not self.present:
            return "none"
        return "verified" if self.verified else f"not verified ({self.reason})"

    def as_json(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "verified": self.verified,
            "signatureVerified": self.signature_verified,
            "status": self.verdict,
            "reason": self.reason,
            "predicateType": self.predicate_type,
            "issuer": self.identity.issuer,
            "repository": self.identity.repository,
            "workflow": self.identity.workflow,
            "ref": self.identity.ref,
            "commit": self.identity.commit,
            "runInvocation": self.identity.run,
            "subjectMatches": self.subject_matches,
            "matchesTrust": self.matches_trust,
        }

    def view_fields(self) -> dict[str, str]:
        """Scalar lines for `npm stage view`."""
        fields = {"provenance": self.verdict}
        if not self.present:
            return fields
        for key, value in (
            ("provenanceRepository", self.identity.repository),
            ("provenanceWorkflow", self.identity.workflow),
            ("provenanceRef", self.identity.ref),
        ):
            if value:
                fields[key] = value
        fields["provenanceMatchesTrust"] = {
            True: "yes",
            False: "no",
            None: "no trust relationship",
        }[self.matches_trust]
        return fields


NONE = Check(present=False)


@dataclass(frozen=True)
class Trust:
    """A trust relationship as stored (provider + the claims `npm trust` configured)."""

    provider: str
    claims: dict[str, Any]


class _Unverifiable(Exception):
    """A step failed; the message is the reason shown to the reviewer."""


# -- the entry point ----------------------------------------------------------------------


async def check(
    bundle: bytes | None,
    tarball: bytes,
    name: str,
    version: str,
    trust: Sequence[Trust],
    trusted_root: Path | None = None,
) -> Check:
    if bundle is None:
        return NONE
    return await anyio.to_thread.run_sync(
        examine, bundle, tarball, name, version, trust, trusted_root
    )


def examine(
    bundle: bytes,
    tarball: bytes,
    name: str,
    version: str,
    trust: Sequence[Trust],
    trusted_root: Path | None = None,
) -> Check:
    """Synchronous and CPU-bound: call through check() from async code."""
    if len(bundle) > MAX_BUNDLE_BYTES:
        return Check(present=True, reason=f"the bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        doc = orjson.loads(bundle)
    except orjson.JSONDecodeError:
        return Check(present=True, reason="the bundle is not JSON")
    if not isinstance(doc, dict):
        return Check(present=True, reason="the bundle is not a JSON object")
    # First from the bundle as sent (shown even when it does not verify)...
    base = _read(_certificate(doc), _statement(doc), tarball, name, version, trust)
    try:
        payload, cert = _verify(bundle, trusted_root)
    except _Unverifiable as exc:
        return replace(base, reason=str(exc))
    # ...then again from exactly what sigstore-python verified.
    checked = _read(cert, _parse_statement(payload), tarball, name, version, trust)
    if checked.subject_problem is not None:
        return replace(checked, signature_verified=True, reason=checked.subject_problem)
    return replace(checked, signature_verified=True, verified=True)


def _read(
    cert: x509.Certificate | None,
    statement: dict[str, Any] | None,
    tarball: bytes,
    name: str,
    version: str,
    trust: Sequence[Trust],
) -> Check:
    identity = _identity(cert)
    predicate = statement.get("predicateType") if statement else None
    problem = (
        subject_problem(statement, tarball, name, version)
        if statement is not None
        else "the bundle holds no in-toto statement"
    )
    return Check(
        present=True,
        identity=identity,
        predicate_type=predicate if isinstance(predicate, str) else None,
        subject_matches=None if statement is None else problem is None,
        subject_problem=problem,
        matches_trust=_matches_trust(identity, trust),
    )


# -- 1. signature, certificate chain, transparency log (sigstore-python) -----------------


@functools.lru_cache(maxsize=4)
def _verifier(trusted_root: Path | None) -> Any:
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    path = trusted_root or _embedded_root()
    return Verifier(trusted_root=TrustedRoot.from_file(str(path)))


def _embedded_root() -> Path:
    """The public-good trusted_root.json sigstore-python ships (no TUF refresh: offline)."""
    import sigstore

    store = Path(sigstore.__file__).parent / "_store"
    return store / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json"


class _RecordIdentity:
    """A sigstore VerificationPolicy that accepts any identity.

    Identity is not a yes/no for the library here: the reviewer sees it, and it is compared
    with the package's trust relationships (_matches_trust), which may be several.
    """

    def verify(self, cert: x509.Certificate) -> None:
        return None


def _verify(bundle: bytes, trusted_root: Path | None) -> tuple[bytes, x509.Certificate]:
    """The verified statement bytes and signing certificate, or _Unverifiable."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    try:
        verifier = _verifier(trusted_root)
    except (OSError, ValueError, SigstoreError) as exc:
        raise _Unverifiable(f"the trust root cannot be loaded: {_short(exc)}") from exc
    try:
        parsed = Bundle.from_json(bundle)
    except (SigstoreError, ValueError, TypeError, KeyError) as exc:
        raise _Unverifiable(f"unsupported or malformed bundle: {_short(exc)}") from exc
    try:
        payload_type, payload = verifier.verify_dsse(parsed, _RecordIdentity())
    except SigstoreError as exc:
        raise _Unverifiable(f"verification failed: {_short(exc)}") from exc
    except (ValueError, TypeError, KeyError) as exc:
        # Library bugs on odd input: still an answer, never a 500 and never "valid".
        log.warning("sigstore verification raised %r", exc)
        raise _Unverifiable(f"verification failed: {_short(exc)}") from exc
    if payload_type != IN_TOTO:
        raise _Unverifiable(f"the envelope holds {payload_type!r}, not an in-toto statement")
    return payload, parsed.signing_certificate


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# -- 2. the statement's subject against the stored tarball --------------------------------


def _statement(doc: dict[str, Any]) -> dict[str, Any] | None:
    envelope = doc.get("dsseEnvelope")
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), str):
        return None
    try:
        return _parse_statement(base64.b64decode(envelope["payload"], validate=True))
    except binascii.Error:
        return None


def _parse_statement(payload: bytes) -> dict[str, Any] | None:
    try:
        statement = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return statement if isinstance(statement, dict) else None


def predicate_type(bundle: bytes, default: str) -> str:
    """The statement's predicateType (for the attestations endpoint), or `default`."""
    try:
        doc = orjson.loads(bundle)
    except orjson.JSONDecodeError:
        return default
    statement = _statement(doc) if isinstance(doc, dict) else None
    found = statement.get("predicateType") if statement else None
    return found if isinstance(found, str) else default


def purl(name: str, version: str) -> str:
    """npm's purl for a version: `pkg:npm/%40scope/name@1.2.3` (libnpmpublish)."""
    return f"pkg:npm/{urllib.parse.quote(name, safe='/')}@{version}"


def subject_problem(
    statement: dict[str, Any], tarball: bytes, name: str, version: str
) -> str | None:
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects or not isinstance(subjects[0], dict):
        return "the statement names no subject"
    subject = subjects[0]
    want = purl(name, version)
    if subject.get("name") != want:
        return f"the statement is about {str(subject.get('name'))[:200]!r}, not {want}"
    digest = subject.get("digest")
    claimed = digest.get("sha512") if isinstance(digest, dict) else None
    if not isinstance(claimed, str):
        return "the statement's subject has no sha512 digest"
    if claimed.lower() != hashlib.sha512(tarball).hexdigest():
        return "the statement's sha512 is not the stored tarball's"
    return None


# -- 3. the certificate's build identity against the trust relationships -------------------


def _identity(cert: x509.Certificate | None) -> Identity:
    if cert is None:
        return Identity()
    values: dict[str, str] = {}
    for ext in cert.extensions:
        oid = ext.oid.dotted_string
        if oid.startswith(_OID) and isinstance(ext.value, x509.UnrecognizedExtension):
            text = _ext_text(oid, ext.value.value)
            if text is not None:
                values[oid] = text
    repository = values.get(SOURCE_REPOSITORY_URI)
    if repository is None and REPOSITORY_V1 in values:
        repository = f"https://github.com/{values[REPOSITORY_V1]}"
    return Identity(
        issuer=values.get(ISSUER) or values.get(ISSUER_V1),
        repository=repository,
        workflow=values.get(BUILD_CONFIG_URI),
        ref=values.get(SOURCE_REPOSITORY_REF) or values.get(REF_V1),
        commit=values.get(SOURCE_REPOSITORY_DIGEST),
        run=values.get(RUN_INVOCATION_URI),
    )


def _certificate(doc: dict[str, Any]) -> x509.Certificate | None:
    material = doc.get("verificationMaterial")
    if not isinstance(material, dict):
        return None
    raw: Any = None
    if isinstance(material.get("certificate"), dict):
        raw = material["certificate"].get("rawBytes")
    elif isinstance(material.get("x509CertificateChain"), dict):
        chain = material["x509CertificateChain"].get("certificates")
        if isinstance(chain, list) and chain and isinstance(chain[0], dict):
            raw = chain[0].get("rawBytes")
    if not isinstance(raw, str):
        return None
    try:
        return x509.load_der_x509_certificate(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return None


def _ext_text(oid: str, value: bytes) -> str | None:
    """Extensions .1 to .6 hold raw UTF-8; .8 onwards a DER UTF8String."""
    if int(oid.rsplit(".", 1)[1]) < 8:
        raw = value
    else:
        if len(value) < 2 or value[0] != 0x0C:
            return None
        length, offset = value[1], 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 2 or len(value) < 2 + count:
                return None
            length, offset = int.from_bytes(value[2 : 2 + count], "big"), 2 + count
        raw = value[offset : offset + length]
        if len(raw) != length:
            return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def _path_of(uri: str | None) -> str | None:
    if not uri:
        return None
    parsed = urllib.parse.urlsplit(uri)
    return parsed.path.strip("/") or None


def _github_match(identity: Identity, claims: dict[str, Any]) -> bool:
    repo = _path_of(identity.repository)
    workflow = _path_of(identity.workflow)
    want_repo = str(claims.get("repository", ""))
    file = claims.get("workflow_ref", {})
    want_file = str(file.get("file", "")) if isinstance(file, dict) else ""
    if repo is None or workflow is None or "@" not in workflow:
        return False
    wf_repo, _, wf_file = workflow.split("@", 1)[0].partition("/.github/workflows/")
    return (
        repo.casefold() == want_repo.casefold()
        and wf_repo.casefold() == want_repo.casefold()
        and wf_file == want_file
    )


def _gitlab_match(identity: Identity, claims: dict[str, Any]) -> bool:
    # Build config URI: https://gitlab.com/<project_path>//<file>@<ref>
    repo = _path_of(identity.repository)
    want = str(claims.get("project_path", ""))
    file = claims.get("ci_config_ref_uri", {})
    want_file = str(file.get("file", "")) if isinstance(file, dict) else ""
    uri = identity.workflow or ""
    if repo is None or "//" not in uri.partition("://")[2]:
        return False
    location, _, rest = uri.partition("://")[2].partition("//")
    return (
        repo.casefold() == want.casefold()
        and location.casefold().endswith("/" + want.casefold())
        and rest.rsplit("@", 1)[0] == want_file
    )


_MATCHERS = {"github": _github_match, "gitlab": _gitlab_match}


def _matches_trust(identity: Identity, trust: Sequence[Trust]) -> bool | None:
    """True/False against the comparable relationships; None when there are none."""
    comparable = [t for t in trust if t.provider in _MATCHERS]
    if not comparable:
        return None
    return any(_MATCHERS[t.provider](identity, t.claims) for t in comparable)


# -- risk signals -------------------------------------------------------------------------


def signals(result: Check) -> list[Signal]:
    """Signals about the stage's own bundle (history is signals._identity's job)."""
    if not result.present:
        return []
    out: list[Signal] = []
    if result.subject_matches is False:
        out.append(Signal("provenance-subject-mismatch", HIGH, result.subject_problem or "subject"))
    if result.matches_trust is False:
        where = result.identity.repository or "an unnamed repository"
        workflow = f", workflow {result.identity.workflow}" if result.identity.workflow else ""
        out.append(
            Signal(
                "provenance-other-repository",
                HIGH,
                f"the bundle's certificate names {where}{workflow}, "
                "which matches none of this package's trust relationships",
            )
        )
    if not result.verified and result.subject_matches is not False:
        out.append(Signal("provenance-not-verified", MEDIUM, f"provenance {result.verdict}"))
    return out
