"""The CI providers: how `npm trust` describes a workflow, and how an ID token must match it.

Like Warehouse, each provider declares its checks as a table: one rule per configured
claim, each comparing the value the maintainer configured with the value the provider
signed. A relationship matches only when every rule it uses passes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airlock.oidc.errors import InvalidTrustConfig

Claims = Mapping[str, Any]

PUBLISH = "createPackage"
STAGE = "createStagedPackage"
PERMISSIONS = (PUBLISH, STAGE)

_NAME = r"[A-Za-z0-9_.-]+"
_GITHUB_REPO = re.compile(rf"^{_NAME}/{_NAME}$")
_GITLAB_PROJECT = re.compile(rf"^{_NAME}(/{_NAME})+$")
_VCS_ORIGIN = re.compile(rf"^{_NAME}(/{_NAME}){{2,}}$")
_CIRCLE = "oidc.circleci.com/"


def _str(claims: Claims, key: str) -> str | None:
    value = claims.get(key)
    return value if isinstance(value, str) else None


def _same_ci(configured: Any, signed: Any) -> bool:
    """Case-insensitive equality (GitHub/GitLab names and environments are)."""
    return isinstance(signed, str) and str(configured).casefold() == signed.casefold()


def _same(configured: Any, signed: Any) -> bool:
    return isinstance(signed, str) and configured == signed


def _github_workflow(config: Claims, claims: Claims) -> bool:
    # workflow_ref is "owner/repo/.github/workflows/<file>@<ref>": the file must be the
    # configured one, in the configured repository (a fork's workflow has another owner).
    ref = _str(claims, "workflow_ref")
    if ref is None or "@" not in ref:
        return False
    path = ref.split("@", 1)[0]
    expected = f"{config['repository']}/.github/workflows/{config['workflow_ref']['file']}"
    repo, _, rest = path.partition("/.github/workflows/")
    want_repo, _, want_rest = expected.partition("/.github/workflows/")
    return repo.casefold() == want_repo.casefold() and rest == want_rest


def _gitlab_config_file(config: Claims, claims: Claims) -> bool:
    # ci_config_ref_uri is "<host>/<project_path>//<file>@<ref>" (host varies when
    # self-hosted, so only the project path and the file are compared).
    uri = _str(claims, "ci_config_ref_uri")
    if uri is None or "//" not in uri or "@" not in uri:
        return False
    location, _, file_and_ref = uri.partition("//")
    file = file_and_ref.rsplit("@", 1)[0]
    project = str(config["project_path"]).casefold()
    return (
        location.casefold().endswith("/" + project) and file == config["ci_config_ref_uri"]["file"]
    )


def _circle_contexts(config: Claims, claims: Claims) -> bool:
    # Every configured context must be one the job ran with.
    signed = claims.get(_CIRCLE + "context-ids")
    if not isinstance(signed, list):
        return False
    return set(config[_CIRCLE + "context-ids"]) <= {str(s).lower() for s in signed}


@dataclass(frozen=True)
class Rule:
    """One configured claim: `check(config, signed_claims)` must hold when it is configured."""

    key: str
    check: Callable[[Claims, Claims], bool]
    optional: bool = False


def _simple(key: str, same: Callable[[Any, Any], bool] = _same, optional: bool = False) -> Rule:
    return Rule(key, lambda cfg, signed: same(cfg[key], signed.get(key)), optional)


def _uuid_eq(configured: Any, signed: Any) -> bool:
    return isinstance(signed, str) and str(configured).lower() == signed.lower()


GITHUB_RULES = (
    _simple("repository", _same_ci),
    Rule("workflow_ref", _github_workflow),
    _simple("environment", _same_ci, optional=True),
)
GITLAB_RULES = (
    _simple("project_path", _same_ci),
    Rule("ci_config_ref_uri", _gitlab_config_file),
    _simple("environment", _same, optional=True),
)
CIRCLECI_RULES = (
    _simple(_CIRCLE + "org-id", _uuid_eq),
    _simple(_CIRCLE + "project-id", _uuid_eq),
    _simple(_CIRCLE + "pipeline-definition-id", _uuid_eq),
    _simple(_CIRCLE + "vcs-origin", _same_ci),
    Rule(_CIRCLE + "context-ids", _circle_contexts, optional=True),
)

RULES: dict[str, tuple[Rule, ...]] = {
    "github": GITHUB_RULES,
    "gitlab": GITLAB_RULES,
    "circleci": CIRCLECI_RULES,
}

# Signed claims copied into the token's `trusted_publisher` (shown as _npmUser.trustedPublisher
# and as a stage's workflow identity), per provider.
IDENTITY_CLAIMS: dict[str, tuple[str, ...]] = {
    "github": ("repository", "workflow_ref", "ref", "sha", "environment", "run_id"),
    "gitlab": ("project_path", "ci_config_ref_uri", "ref", "sha", "environment", "pipeline_id"),
    "circleci": tuple(
        _CIRCLE + k
        for k in ("org-id", "project-id", "pipeline-definition-id", "vcs-origin", "pipeline-id")
    ),
}


def matches(provider: str, config: Claims, signed: Claims) -> bool:
    """Whether an ID token's claims satisfy one relationship's configured claims."""
    for rule in RULES[provider]:
        if rule.key not in config:
            if rule.optional:
                continue
            return False
        if not rule.check(config, signed):
            return False
    return True


def identity(provider: str, signed: Claims) -> dict[str, Any]:
    """The workflow identity worth recording: who published, from where."""
    out: dict[str, Any] = {}
    for key in IDENTITY_CLAIMS[provider]:
        value = signed.get(key)
        if isinstance(value, str | int) and value != "":
            out[key.removeprefix(_CIRCLE).replace("-", "_")] = value
    if provider == "github" and isinstance(out.get("workflow_ref"), str):
        out["workflow"] = out["workflow_ref"].split("@", 1)[0].rsplit("/", 1)[-1]
    return out


def describe(publisher: Mapping[str, Any]) -> str:
    """One line naming a trusted publisher: "github: owner/repo/.github/workflows/x.yml@ref"."""
    where = publisher.get("workflow_ref") or publisher.get("ci_config_ref_uri")
    where = where or publisher.get("vcs_origin") or publisher.get("id")
    return f"{publisher.get('id')}: {where}"[:1024]


def parse_config(provider: str, claims: Any) -> dict[str, Any]:
    """Validate the claims of an `npm trust` body; raise InvalidTrustConfig (400)."""
    if provider not in RULES:
        raise InvalidTrustConfig(
            f"Unknown trust type {provider!r}: expected one of github, gitlab, circleci."
        )
    if not isinstance(claims, dict):
        raise InvalidTrustConfig("`claims` must be an object.")
    allowed = {rule.key for rule in RULES[provider]}
    unknown = sorted(set(claims) - allowed)
    if unknown:
        raise InvalidTrustConfig(f"Unknown {provider} claims: {', '.join(unknown)}.")
    parser = {"github": _parse_github, "gitlab": _parse_gitlab, "circleci": _parse_circleci}
    return parser[provider](claims)


def _required_str(claims: Claims, key: str, pattern: re.Pattern[str], hint: str) -> str:
    value = claims.get(key)
    if not isinstance(value, str) or len(value) > 512 or not pattern.match(value):
        raise InvalidTrustConfig(f"`{key}` must be {hint}.")
    return value


def _environment(claims: Claims, out: dict[str, Any]) -> None:
    env = claims.get("environment")
    if env is None:
        return
    if not isinstance(env, str) or not env.strip() or len(env) > 255:
        raise InvalidTrustConfig("`environment` must be a non-empty name.")
    out["environment"] = env


def _workflow_file(claims: Claims, key: str, *, allow_dirs: bool) -> dict[str, str]:
    ref = claims.get(key)
    file = ref.get("file") if isinstance(ref, dict) and set(ref) == {"file"} else None
    ok = (
        isinstance(file, str)
        and 0 < len(file) <= 255
        and file.endswith((".yml", ".yaml"))
        and (allow_dirs or "/" not in file)
        and not file.startswith("/")
        and ".." not in file.split("/")
        and "@" not in file
    )
    if not ok:
        raise InvalidTrustConfig(f'`{key}` must be {{"file": "<workflow>.yml"}}.')
    return {"file": str(file)}


def _parse_github(claims: Claims) -> dict[str, Any]:
    out: dict[str, Any] = {
        "repository": _required_str(claims, "repository", _GITHUB_REPO, "owner/repository"),
        "workflow_ref": _workflow_file(claims, "workflow_ref", allow_dirs=False),
    }
    _environment(claims, out)
    return out


def _parse_gitlab(claims: Claims) -> dict[str, Any]:
    out: dict[str, Any] = {
        "project_path": _required_str(
            claims, "project_path", _GITLAB_PROJECT, "a project path such as group/project"
        ),
        "ci_config_ref_uri": _workflow_file(claims, "ci_config_ref_uri", allow_dirs=True),
    }
    _environment(claims, out)
    return out


def _uuid(value: Any, key: str) -> str:
    try:
        return str(uuid.UUID(str(value))) if isinstance(value, str) else _bad_uuid(key)
    except ValueError:
        return _bad_uuid(key)


def _bad_uuid(key: str) -> str:
    raise InvalidTrustConfig(f"`{key}` must be a UUID.")


def _parse_circleci(claims: Claims) -> dict[str, Any]:
    out: dict[str, Any] = {
        _CIRCLE + k: _uuid(claims.get(_CIRCLE + k), _CIRCLE + k)
        for k in ("org-id", "project-id", "pipeline-definition-id")
    }
    out[_CIRCLE + "vcs-origin"] = _required_str(
        claims, _CIRCLE + "vcs-origin", _VCS_ORIGIN, "host/owner/repository without a scheme"
    )
    contexts = claims.get(_CIRCLE + "context-ids")
    if contexts is not None:
        if not isinstance(contexts, list) or not contexts or len(contexts) > 50:
            raise InvalidTrustConfig(f"`{_CIRCLE}context-ids` must be a list of UUIDs.")
        out[_CIRCLE + "context-ids"] = sorted({_uuid(c, _CIRCLE + "context-ids") for c in contexts})
    return out


def parse_permissions(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(p in PERMISSIONS for p in value):
        raise InvalidTrustConfig(
            "`permissions` must list createPackage and/or createStagedPackage "
            "(npm trust --allow-publish / --allow-stage-publish)."
        )
    return [p for p in PERMISSIONS if p in value]
