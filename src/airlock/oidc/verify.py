"""Verifying a CI provider's ID token: issuer, signature, audience, time, identity."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airlock.context import AppContext
from airlock.lazy import lazy_module
from airlock.oidc import issuers
from airlock.oidc.errors import ExchangeError
from airlock.oidc.keys import KeyCache

if TYPE_CHECKING:
    import jwt
else:  # loaded on first use: PyJWT imports cryptography (~10 MiB per process)
    jwt = lazy_module("jwt")

ALGORITHMS = ("RS256", "ES256")
_MAX_TOKEN_CHARS = 16 * 1024
_MAX_LIFETIME = 7 * 24 * 3600


@dataclass(frozen=True)
class VerifiedToken:
    issuer: issuers.Issuer
    claims: dict[str, Any]
    # Single-use key: the jti, or a hash of the token when a provider sends no jti.
    jti: str
    expires_at: datetime


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if len(token) > _MAX_TOKEN_CHARS or token.count(".") != 2:
        raise ExchangeError("the bearer credential is not a JWT ID token", status=400)
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ExchangeError("the bearer credential is not a JWT ID token", status=400) from exc
    return header, claims


def peek_issuer(ctx: AppContext, token: str) -> issuers.Issuer:
    """The configured issuer the (not yet verified) token names; no network request.

    Keys come only from configured issuers, and only once a relationship of the package
    uses that issuer (the exchange looks relationships up first)."""
    _, unverified = _unverified(token)
    iss = unverified.get("iss")
    issuer = issuers.resolve(ctx.settings, iss) if isinstance(iss, str) else None
    if issuer is None:
        raise ExchangeError(f"the issuer {iss!r} is not trusted by this registry")
    return issuer


def replay_key(token: str) -> str:
    """What makes two ID tokens "the same" when there is no jti: the signed header and
    payload with base64 padding removed (PyJWT accepts `==` padding, and an ES256
    signature can be re-encoded), never the raw string."""
    signing_input = token.rsplit(".", 1)[0]
    canonical = ".".join(part.rstrip("=") for part in signing_input.split("."))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


async def verify_id_token(ctx: AppContext, keys: KeyCache, token: str) -> VerifiedToken:
    """Check everything about the ID token itself; raise ExchangeError (401) on any failure."""
    header, _ = _unverified(token)
    issuer = peek_issuer(ctx, token)
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise ExchangeError(f"unsupported signing algorithm {alg!r} (use RS256 or ES256)")
    kid = header.get("kid")
    key = await keys.key(issuer.url, kid if isinstance(kid, str) else None)
    claims = _decode(ctx, token, key, alg, issuer.url)
    _check_times(ctx, claims)
    if issuer.org_id is not None and claims.get("oidc.circleci.com/org-id") != issuer.org_id:
        raise ExchangeError("the CircleCI organisation does not match the issuer")
    jti = claims.get("jti")
    if jti is not None and (not isinstance(jti, str) or not 0 < len(jti) <= 255):
        raise ExchangeError("the ID token has an invalid jti")
    return VerifiedToken(
        issuer=issuer,
        claims=claims,
        jti=jti or replay_key(token),
        # Remembered until no clock within the leeway would accept the token any more.
        expires_at=datetime.fromtimestamp(claims["exp"] + ctx.settings.oidc_leeway_seconds, UTC),
    )


def _decode(ctx: AppContext, token: str, key: jwt.PyJWK, alg: str, iss: str) -> dict[str, Any]:
    aud = issuers.audience(ctx.settings)
    try:
        # Times are checked against ctx.clock below (PyJWT only knows the system clock).
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=[alg],
            audience=aud,
            issuer=iss,
            options={
                "require": ["iss", "aud", "exp", "iat"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidAudienceError as exc:
        raise ExchangeError(f"the ID token's audience is not {aud}") from exc
    except jwt.InvalidSignatureError as exc:
        raise ExchangeError("the ID token's signature is invalid") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise ExchangeError(f"the ID token has no {exc.claim} claim") from exc
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise ExchangeError(f"the ID token is invalid ({type(exc).__name__})") from exc
    return claims


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExchangeError(f"the ID token's {name} claim is not a number")
    return float(value)


def _check_times(ctx: AppContext, claims: dict[str, Any]) -> None:
    now = ctx.clock.now().timestamp()
    leeway = ctx.settings.oidc_leeway_seconds
    exp, iat, nbf = _number(claims, "exp"), _number(claims, "iat"), _number(claims, "nbf")
    if exp is None or exp + leeway <= now:
        raise ExchangeError("the ID token has expired")
    if exp - now > _MAX_LIFETIME:
        # CI ID tokens live minutes; a far-future exp is a forgery or a misconfiguration.
        raise ExchangeError("the ID token's expiry is too far in the future")
    if nbf is not None and nbf - leeway > now:
        raise ExchangeError("the ID token is not valid yet (nbf is in the future)")
    if iat is None or iat - leeway > now:
        raise ExchangeError("the ID token was issued in the future (iat)")
