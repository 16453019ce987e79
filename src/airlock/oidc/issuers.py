"""Which OIDC issuers this registry trusts, and for which provider.

Keys are only ever fetched from an issuer listed here: an ID token naming any other
issuer is refused before any network request (no server-side request forgery).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from airlock.settings import Settings


@dataclass(frozen=True)
class Issuer:
    url: str
    provider: str
    # CircleCI has one issuer per organisation: <prefix>/<org-id>.
    org_id: str | None = None
    # The configured name a trust relationship is bound to: the provider's own name for
    # its primary issuer, the settings key ("github:ghes") for an extra one.
    name: str = ""


def resolve(settings: Settings, iss: str) -> Issuer | None:
    """The configured issuer an ID token's `iss` names, or None if it is not trusted."""
    exact = {
        settings.oidc_github_issuer.rstrip("/"): "github",
        settings.oidc_gitlab_issuer.rstrip("/"): "gitlab",
    }
    # Extra issuers are named "<provider>[:<label>]", e.g. "gitlab:corp".
    exact.update({url.rstrip("/"): name for name, url in settings.oidc_extra_issuers.items()})
    if iss in exact:
        return Issuer(iss, exact[iss].split(":", 1)[0], name=exact[iss])
    prefix = settings.oidc_circleci_issuer.rstrip("/") + "/"
    org_id = iss[len(prefix) :] if iss.startswith(prefix) else ""
    if org_id and "/" not in org_id and org_id.replace("-", "").isalnum() and len(org_id) <= 64:
        return Issuer(iss, "circleci", org_id=org_id, name="circleci")
    return None


def names(settings: Settings, provider: str) -> list[str]:
    """The issuer names a relationship of `provider` may be bound to (primary first)."""
    extra = [n for n in settings.oidc_extra_issuers if n.split(":", 1)[0] == provider]
    return [provider, *extra]


def audience(settings: Settings) -> str:
    """What npm asks its CI for: `npm:<hostname of the registry URL>` (no port, no path)."""
    return f"npm:{urlsplit(settings.base_url).hostname}"
