"""Browser helpers for the web UI tests: sign in through the real pages, stage versions."""

from __future__ import annotations

from tests.support.packages import publish_body

PW = "correct-horse-9"


def sign_in(page, base_url: str, name: str, code=None, *, start: str = "/-/web/sign-in") -> None:
    """Fill the sign-in form (and the code step when `code` is given) by label."""
    page.goto(base_url + start)
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PW)
    page.get_by_role("button", name="Sign in").click()
    if code is not None:
        page.get_by_label("One-time code").fill(code())
        page.get_by_role("button", name="Confirm").click()


def stage(http, name: str, version: str, **kw) -> str:
    resp = http.post(
        f"/-/stage/package/{name.replace('/', '%2f')}",
        json=publish_body(name, version, access="public", **kw),
    )
    assert resp.status_code == 201, resp.text
    stage_id: str = resp.json()["stageId"]
    return stage_id


def is_live(http, name: str, version: str) -> bool:
    resp = http.get(f"/{name.replace('/', '%2f')}")
    return resp.status_code == 200 and version in resp.json().get("versions", {})
