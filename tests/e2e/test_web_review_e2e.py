"""Review in Chromium (Playwright against a live server): risk signals and the highlighted
diff on a stage's page (another compared version picked from the form, hostile file content
inert), the package settings page (four-eyes with a code, a webhook with its delivery log),
the stager's own approval refused, the audit pages, and 404 for a non-maintainer."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.test_webhooks_e2e import Receiver
from tests.support.browser import launch, shot
from tests.support.otp import enrol_live
from tests.support.packages import make_tarball, publish_body
from tests.support.server import free_port
from tests.support.users import signup
from tests.support.web import is_live, sign_in, stage

pytestmark = pytest.mark.e2e

NAME = "acme-lib"
HOSTILE = (
    b"<script>document.title='pwned'</script>\n<img src=x onerror=\"document.title='pwned'\">\n"
)
UTIL_OLD = b"export function pad(s, n) {\n  return s.padStart(n);\n}\n// keep\n"
UTIL_NEW = b"export function pad(s, n) {\n  return String(s).padStart(n, ' ');\n}\n// keep\n"


def _publish(http, version: str, files: dict[str, bytes]) -> None:
    tarball = make_tarball(NAME, version, {"description": "Acme utilities"}, files)
    resp = http.put(f"/{NAME}", json=publish_body(NAME, version, tarball))
    assert resp.status_code in (200, 201), resp.text


def _add_owner(http, name: str) -> None:
    doc = http.get(f"/{NAME}").json()
    body = {"_id": NAME, "_rev": doc["_rev"], "maintainers": [*doc["maintainers"], {"name": name}]}
    resp = http.put(f"/{NAME}/-rev/{doc['_rev']}", json=body)
    assert resp.status_code in (200, 201), resp.text


def test_stage_review_settings_four_eyes_and_audit(server):
    alice = server.client(signup(server.url, "alice"))
    bob = server.client(signup(server.url, "bob"))
    signup(server.url, "carol")
    _publish(alice, "1.0.0", {"lib/util.js": UTIL_OLD, "README.md": b"# acme-lib\n"})
    _publish(alice, "1.1.0", {"lib/util.js": UTIL_OLD, "README.md": b"# acme-lib\n\nv1.1\n"})
    _add_owner(alice, "bob")
    _, recovery = enrol_live(alice)
    bob_secret, _ = enrol_live(bob)
    staged = make_tarball(
        NAME,
        "1.2.0",
        {"description": "Acme utilities", "scripts": {"postinstall": "node collect.js"}},
        {
            "lib/util.js": UTIL_NEW,
            "README.md": b"# acme-lib\n\nv1.1\n",
            "notes.html": HOSTILE,
            "data/big.txt": b"line of text\n" * 11_000,  # over the 128 kB per-file limit
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        },
    )
    sid = stage(alice, NAME, "1.2.0", tarball=staged)

    receiver = Receiver(free_port())
    with sync_playwright() as pw:
        browser = launch(pw)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        codes = iter(recovery)
        sign_in(page, server.url, "alice", lambda: next(codes))
        expect(page.get_by_role("heading", name="Staged versions")).to_be_visible()

        # The stage page: the high signal first, then the diff against what `latest` is.
        page.goto(f"{server.url}/-/web/stages/{sid}")
        risks = page.get_by_role("list", name="Risk signals").locator("li")
        expect(risks.first.locator(".sev")).to_have_text("high")
        expect(page.locator("#review-details")).to_contain_text(
            "new install-time script: postinstall: node collect.js"
        )
        expect(page.get_by_role("heading", name="Changes against acme-lib@1.1.0")).to_be_visible()
        shot(page, "stage-review")
        util = page.locator("details.dfile", has_text="lib/util.js")
        expect(util.locator("summary")).to_contain_text("changed")
        expect(util.locator("tr.add")).to_contain_text("return String(s).padStart(n, ' ');")
        expect(util.locator("tr.del")).to_contain_text("return s.padStart(n);")
        expect(util.locator("tr.ctx").first).to_contain_text("export function pad")
        # Collapsible without script: a closed <details> hides its rows.
        util.locator("summary").click()
        expect(util.locator("tr.add")).to_be_hidden()
        util.locator("summary").click()
        expect(util.locator("tr.add")).to_be_visible()
        # package.json (install-time code lives there) comes first.
        expect(page.locator("details.dfile").first.locator(".path")).to_have_text("package.json")
        expect(page.locator("details.dfile", has_text="logo.png")).to_contain_text("binary")
        big = page.locator("details.dfile", has_text="data/big.txt")
        expect(big).to_contain_text("Truncated: not diffed: larger than 131072 bytes")
        # File content with <script> is text: shown, never run.
        notes = page.locator("details.dfile", has_text="notes.html")
        expect(notes.locator("tr.add").first).to_contain_text("<script>document.title='pwned'")
        assert page.locator("section.diff script, section.diff [onerror]").count() == 0
        assert page.title() != "pwned" and not dialogs
        page.locator("section.diff").scroll_into_view_if_needed()
        util.scroll_into_view_if_needed()
        shot(page, "stage-diff")

        # Another published version from the form.
        page.get_by_label("Compare with").select_option("1.0.0")
        page.get_by_role("button", name="Compare").click()
        expect(page).to_have_url(re.compile(r"against=1\.0\.0"))
        expect(page.get_by_role("heading", name="Changes against acme-lib@1.0.0")).to_be_visible()
        expect(page.locator("details.dfile", has_text="README.md")).to_contain_text("changed")

        # Settings: four-eyes on with a code; a webhook.
        page.goto(f"{server.url}/-/web/package/{NAME}/settings")
        page.get_by_label("Four-eyes: whoever staged a version cannot approve it").check()
        page.locator("#policy_code").fill("000000")
        page.get_by_role("button", name="Save policy").click()
        expect(page.get_by_role("alert")).to_be_visible()
        assert alice.get(f"/-/airlock/v1/package/{NAME}/policy").json()["fourEyes"] is False
        page.get_by_label("Four-eyes: whoever staged a version cannot approve it").check()
        page.locator("#policy_code").fill(next(codes))
        page.get_by_role("button", name="Save policy").click()
        expect(page.get_by_role("status")).to_have_text("Review policy saved.")
        expect(page.locator("main")).to_contain_text("four-eyes on")
        assert alice.get(f"/-/airlock/v1/package/{NAME}/policy").json()["fourEyes"] is True
        page.get_by_label("Payload URL").fill(f"http://127.0.0.1:{receiver.server.server_port}/")
        page.get_by_label(re.compile("^Secret")).fill("receiver-secret-0123456789")
        page.get_by_label("package:version:staged").check()
        page.locator("#hook_code").fill(next(codes))
        page.get_by_role("button", name="Add webhook").click()
        expect(page.get_by_role("status")).to_have_text("Webhook added.")
        stage(alice, NAME, "1.3.0")
        receiver.wait(1)
        assert receiver.delivered(), receiver.calls
        page.reload()
        expect(page.locator(".deliveries")).to_contain_text("delivered")
        shot(page, "package-settings")

        # The stager's own approval is refused on the stage page.
        page.goto(f"{server.url}/-/web/stages/{sid}")
        page.get_by_label("One-time code").fill(next(codes))
        page.get_by_role("button", name="Approve", exact=True).click()
        expect(page.get_by_role("heading", name="0 of 1 approved")).to_be_visible()
        expect(page.locator("main")).to_contain_text("four-eyes")
        assert not is_live(alice, NAME, "1.2.0")

        # Another maintainer approves; the package's audit page lists it.
        code = pyotp.TOTP(bob_secret).now()
        approved = bob.post(f"/-/stage/{sid}/approve", headers={"npm-otp": code})
        if approved.status_code == 401:  # bob's enrolment spent this time-step's code
            page.wait_for_timeout(31_000)
            approved = bob.post(
                f"/-/stage/{sid}/approve", headers={"npm-otp": pyotp.TOTP(bob_secret).now()}
            )
        assert approved.status_code == 201, approved.text
        page.goto(f"{server.url}/-/web/package/{NAME}/audit")
        rows = page.locator("table.audit tbody tr")
        expect(rows.filter(has_text="package:version:approved")).to_contain_text("bob")
        expect(page.locator("table.audit")).to_contain_text("package:policy:changed")
        shot(page, "package-audit")
        page.get_by_label("Event", exact=True).select_option("package:version:approved")
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("1.2.0")
        page.goto(f"{server.url}/-/web/account/audit")
        expect(page.locator("table.audit")).to_contain_text("package:policy:changed")
        expect(page.locator("table.audit")).not_to_contain_text("package:version:approved")
        shot(page, "account-audit")
        ctx.close()

        # A non-maintainer: 404 on the settings and audit pages, as for a missing package.
        carol = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        sign_in(carol, server.url, "carol")
        for path in ("settings", "audit"):
            resp = carol.goto(f"{server.url}/-/web/package/{NAME}/{path}")
            assert resp is not None and resp.status == 404
            missing = carol.goto(f"{server.url}/-/web/package/no-such-pkg/{path}")
            assert missing is not None and missing.status == 404
        expect(carol.get_by_role("heading", name="Not found")).to_be_visible()
        carol.goto(f"{server.url}/-/web/account")
        csrf = carol.locator("input[name=csrf]").first.get_attribute("value")
        posted = carol.request.post(
            f"{server.url}/-/web/package/{NAME}/settings/policy",
            form={"csrf": csrf or "", "approvals_required": "1", "code": "123456"},
        )
        assert posted.status == 404
        assert alice.get(f"/-/airlock/v1/package/{NAME}/policy").json()["fourEyes"] is True
        browser.close()
    receiver.close()
