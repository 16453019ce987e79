"""What a token-create request asks for, validated into a frozen spec.

npm 11 sends `description`, `cidr_whitelist` and `expires` (days); npm's OpenAPI names them
`token_description`, `cidr` and `expiry`. Both spellings are accepted.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from airlock.authz.principal import TokenPermission
from airlock.errors import BadRequest
from airlock.settings import Settings

_SCOPE = re.compile(r"^@[a-z0-9][a-z0-9._-]*$")
_PACKAGE = re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class GranularSpec:
    name: str | None
    description: str | None
    permission: TokenPermission
    packages: tuple[str, ...]
    scopes: tuple[str, ...]
    cidr: tuple[str, ...]
    expires_days: int
    bypass_2fa: bool


def _first(body: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if body.get(key) is not None:
            return body[key]
    return None


def _text(value: Any, field: str, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"Invalid {field}: expected text of at most {limit} characters.")
    return value


def _list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"Invalid {field}: expected a list of strings.")
    return list(value)


# Every field a token request may carry (npm 11/12 and npm's OpenAPI spellings). Anything
# else is refused: a field that would restrict a token must never be silently ignored
# (a `publish_policy` Airlock does not know would otherwise give a read-write token).
KNOWN_FIELDS = frozenset(
    {
        "name",
        "password",
        "description",
        "token_description",
        "permission",
        "packages_and_scopes_permission",
        "readonly",
        "packages",
        "packages_all",
        "scopes",
        "orgs",
        "orgs_permission",
        "cidr_whitelist",
        "cidr",
        "expires",
        "expiry",
        "bypass_2fa",
    }
)
# npm 11.20+ and npm 12 spell the stage-only permission this way.
_PERMISSION_ALIASES = {"read-write-stage-only": TokenPermission.STAGE_ONLY}


def refuse_unknown_fields(body: dict[str, Any]) -> None:
    unknown = sorted(k for k in body if k not in KNOWN_FIELDS)
    if unknown:
        raise BadRequest(
            f"Unknown token field(s) {', '.join(unknown)}: this registry does not support "
            "them, and will not create a token that ignores a requested limit."
        )


def parse_permission(body: dict[str, Any]) -> TokenPermission:
    raw = _first(body, "permission", "packages_and_scopes_permission")
    if isinstance(raw, str) and raw in _PERMISSION_ALIASES:
        return _PERMISSION_ALIASES[raw]
    if raw is None:
        return (
            TokenPermission.READ_ONLY
            if body.get("readonly") is True
            else (TokenPermission.READ_WRITE)
        )
    try:
        return TokenPermission(raw)
    except ValueError as exc:
        raise BadRequest(
            f"Invalid permission {raw!r}: use read-only, read-write or read-write-stage-only "
            "(also spelled stage-only)."
        ) from exc


def parse_cidrs(values: list[str]) -> tuple[str, ...]:
    nets = []
    for value in values:
        try:
            nets.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError as exc:
            raise BadRequest(f"Invalid CIDR {value!r}: expected e.g. 10.0.0.0/8.") from exc
    return tuple(nets)


def parse_expiry(raw: Any, settings: Settings) -> int:
    if raw is None:
        return settings.token_default_days
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise BadRequest("Invalid expiry: expected a whole number of days (at least 1).")
    if raw > settings.token_max_days:
        raise BadRequest(
            f"Token expiry of {raw} days is beyond this registry's maximum of "
            f"{settings.token_max_days} days."
        )
    return raw


def parse_scope_limits(body: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if body.get("packages_all") not in (None, False, True):
        raise BadRequest("Invalid packages_all: expected true or false.")
    if _list(body.get("orgs"), "orgs"):
        raise BadRequest("Airlock has no organisations: limit the token with --scopes instead.")
    packages = _list(body.get("packages"), "packages")
    scopes = [s if s.startswith("@") else f"@{s}" for s in _list(body.get("scopes"), "scopes")]
    for name in packages:
        if not _PACKAGE.fullmatch(name):
            raise BadRequest(f"Invalid package name {name!r} in the token's package list.")
    for scope in scopes:
        if not _SCOPE.fullmatch(scope):
            raise BadRequest(f"Invalid scope {scope!r} in the token's scope list.")
    return tuple(packages), tuple(scopes)


def parse_create_request(body: dict[str, Any], settings: Settings) -> GranularSpec:
    """Validate everything before anything is stored (a bad request changes nothing)."""
    refuse_unknown_fields(body)
    bypass = body.get("bypass_2fa", False)
    if not isinstance(bypass, bool):
        raise BadRequest("Invalid bypass_2fa: expected true or false.")
    packages, scopes = parse_scope_limits(body)
    return GranularSpec(
        name=_text(body.get("name"), "name", 255),
        description=_text(_first(body, "description", "token_description"), "description", 1024),
        permission=parse_permission(body),
        packages=packages,
        scopes=scopes,
        cidr=parse_cidrs(_list(_first(body, "cidr_whitelist", "cidr"), "cidr_whitelist")),
        expires_days=parse_expiry(_first(body, "expires", "expiry"), settings),
        bypass_2fa=bypass,
    )
