"""A real OIDC issuer on 127.0.0.1 for trusted-publishing tests.

One HTTP server plays any number of issuers, one per path prefix: `<url>/github`,
`<url>/gitlab`, `<url>/circleci/org/<org-id>` each serve a discovery document
(`/.well-known/openid-configuration`) whose `jwks_uri` points at `/.well-known/jwks`
under the same prefix. Keys (RSA and EC) are generated here. It also plays the GitHub
Actions ID-token request endpoint (`/actions/token?x=1&audience=...`, answering
`{"value": <jwt>}`) that npm calls with ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

REQUEST_TOKEN = "actions-request-token-secret"


class OidcIssuer:
    def __init__(self) -> None:
        self.keys: dict[str, Any] = {
            "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec-1": ec.generate_private_key(ec.SECP256R1()),
        }
        self.jwks_requests = 0
        self.actions_requests: list[dict[str, str]] = []
        # Claims the GitHub Actions endpoint puts in the tokens it mints.
        self.actions_claims: dict[str, Any] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- issuers ---------------------------------------------------------------------
    @property
    def github(self) -> str:
        return self.url + "/github"

    @property
    def gitlab(self) -> str:
        return self.url + "/gitlab"

    @property
    def circleci_prefix(self) -> str:
        return self.url + "/circleci/org"

    def server_env(self) -> dict[str, str]:
        """Environment for `airlock serve` trusting this fixture for every provider."""
        return {
            "AIRLOCK_OIDC_GITHUB_ISSUER": self.github,
            "AIRLOCK_OIDC_GITLAB_ISSUER": self.gitlab,
            "AIRLOCK_OIDC_CIRCLECI_ISSUER": self.circleci_prefix,
        }

    @property
    def actions_request_url(self) -> str:
        # npm appends "&audience=...", so the URL already has a query, as on GitHub.
        return self.url + "/actions/token?x=1"

    # --- keys and signing ------------------------------------------------------------
    def add_key(self, kid: str, kind: str = "rsa") -> None:
        self.keys[kid] = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if kind == "rsa"
            else ec.generate_private_key(ec.SECP256R1())
        )

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            algo = (
                jwt.algorithms.RSAAlgorithm if kid.startswith("rsa") else jwt.algorithms.ECAlgorithm
            )
            jwk = json.loads(algo.to_jwk(key.public_key()))
            jwk.update(
                {"kid": kid, "use": "sig", "alg": "RS256" if kid.startswith("rsa") else "ES256"}
            )
            keys.append(jwk)
        return {"keys": keys}

    def sign(
        self,
        claims: dict[str, Any],
        *,
        issuer: str | None = None,
        audience: str = "npm:127.0.0.1",
        kid: str = "rsa-1",
        lifetime: int = 300,
        now: float | None = None,
        key: Any = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """A signed ID token. Standard claims default to valid ones; `claims` overrides."""
        t = int(now if now is not None else time.time())
        payload = {
            "iss": issuer or self.github,
            "aud": audience,
            "iat": t,
            "nbf": t,
            "exp": t + lifetime,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        alg = "RS256" if kid.startswith("rsa") else "ES256"
        return jwt.encode(
            payload, key or self.keys[kid], algorithm=alg, headers={"kid": kid, **(headers or {})}
        )

    # --- HTTP ------------------------------------------------------------------------
    def start(self) -> OidcIssuer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                path = parts.path
                if path.endswith("/.well-known/openid-configuration"):
                    prefix = issuer.url + path.removesuffix("/.well-known/openid-configuration")
                    self._json(200, {"issuer": prefix, "jwks_uri": prefix + "/.well-known/jwks"})
                elif path.endswith("/.well-known/jwks"):
                    issuer.jwks_requests += 1
                    self._json(200, issuer.jwks())
                elif path == "/actions/token":
                    self._actions_token(parse_qs(parts.query))
                else:
                    self._json(404, {"message": "not found"})

            def _actions_token(self, query: dict[str, list[str]]) -> None:
                auth = self.headers.get("authorization", "")
                audience = query.get("audience", [""])[0]
                issuer.actions_requests.append({"authorization": auth, "audience": audience})
                if auth != f"Bearer {REQUEST_TOKEN}":
                    self._json(401, {"message": "bad request token"})
                    return
                token = issuer.sign(dict(issuer.actions_claims), audience=audience)
                self._json(200, {"count": 1, "value": token})

        return Handler


def github_claims(
    repository: str = "alice/pkg",
    workflow: str = "release.yml",
    ref: str = "refs/heads/main",
    environment: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Claims shaped like a GitHub Actions ID token (a private repository: no provenance)."""
    claims: dict[str, Any] = {
        "sub": f"repo:{repository}:ref:{ref}",
        "repository": repository,
        "repository_owner": repository.split("/")[0],
        "repository_visibility": "private",
        "workflow_ref": f"{repository}/.github/workflows/{workflow}@{ref}",
        "job_workflow_ref": f"{repository}/.github/workflows/{workflow}@{ref}",
        "ref": ref,
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "run_id": "4242",
        "event_name": "push",
    }
    if environment is not None:
        claims["environment"] = environment
    claims.update(extra)
    return claims


def gitlab_claims(
    project_path: str = "grp/sub/proj",
    file: str = ".gitlab-ci.yml",
    ref: str = "main",
    environment: str | None = None,
    host: str = "gitlab.com",
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": f"project_path:{project_path}:ref_type:branch:ref:{ref}",
        "project_path": project_path,
        "project_visibility": "private",
        "ci_config_ref_uri": f"{host}/{project_path}//{file}@refs/heads/{ref}",
        "ref": ref,
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "pipeline_id": "777",
    }
    if environment is not None:
        claims["environment"] = environment
    return claims


def circleci_claims(
    org_id: str, project_id: str, pipeline_definition_id: str, vcs_origin: str, contexts: list[str]
) -> dict[str, Any]:
    c = "oidc.circleci.com/"
    return {
        "sub": f"org/{org_id}/project/{project_id}/user/{uuid.uuid4()}",
        c + "org-id": org_id,
        c + "project-id": project_id,
        c + "pipeline-definition-id": pipeline_definition_id,
        c + "vcs-origin": vcs_origin,
        c + "context-ids": contexts,
        c + "pipeline-id": str(uuid.uuid4()),
    }


async def seed_package(ctx: Any, package: str, owner: str, access: str = "public") -> str:
    """In-process setup: a user (created if new) maintaining `package`; returns a session token."""
    from sqlalchemy import select

    from airlock.accounts.models import User
    from airlock.packages.models import Maintainer, Package
    from airlock.tokens.service import issue_session_token

    now = ctx.clock.now()
    async with ctx.db.write() as session:
        user = (await session.execute(select(User).where(User.name == owner))).scalar_one_or_none()
        if user is None:
            user = User(
                name=owner,
                email=f"{owner}@example.com",
                password_hash="unused",
                created_at=now,
                updated_at=now,
            )
            session.add(user)
            await session.flush()
        pkg = Package(
            name=package,
            scope=package.split("/")[0] if package.startswith("@") else None,
            access=access,
            created_at=now,
            modified_at=now,
        )
        session.add(pkg)
        await session.flush()
        session.add(Maintainer(package_id=pkg.id, user_id=user.id, added_at=now))
    return await issue_session_token(ctx, user)
