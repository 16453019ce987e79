"""Package pages in Chromium: search, a package page (versions, dist-tags, maintainers,
deprecations, readme, install line), a readme with script rendered inert, restricted
packages only for their maintainers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.browser import launch, shot
from tests.support.packages import publish_body
from tests.support.users import signup
from tests.support.web import sign_in

pytestmark = pytest.mark.e2e

HOSTILE = """# acme-widgets

Widgets for **everyone**.

<script>document.title = "pwned"</script>
<img src=x onerror="document.title='pwned'">
[click me](javascript:document.title='pwned')

```js
const w = require("acme-widgets");
```
"""


def _publish(http, name, version, readme="", access=None):
    body = publish_body(name, version, access=access)
    body["versions"][version]["readme"] = readme
    body["versions"][version]["description"] = "Widgets for everyone"
    body["description"] = "Widgets for everyone"
    resp = http.put(f"/{name.replace('/', '%2f')}", json=body)
    assert resp.status_code in (200, 201), resp.text


def test_search_package_page_inert_readme_and_restricted_packages(server):
    alice = server.client(signup(server.url, "alice"))
    signup(server.url, "bob")
    _publish(alice, "acme-widgets", "1.0.0", HOSTILE)
    _publish(alice, "acme-widgets", "1.1.0", HOSTILE)
    resp = alice.put(
        "/-/package/acme-widgets/dist-tags/next",
        content='"1.1.0"',
        headers={"content-type": "application/json"},
    )
    assert resp.status_code in (200, 201), resp.text
    _publish(alice, "@acme/secret", "1.0.0", "private", access="restricted")
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.url + "/-/web/packages?q=widgets")
        expect(page.get_by_role("link", name="acme-widgets")).to_be_visible()
        shot(page, "packages")
        page.get_by_role("link", name="acme-widgets").click()
        expect(page.locator("#install")).to_have_text("npm install acme-widgets")
        expect(page.locator(".markdown strong")).to_have_text("everyone")
        expect(page.locator(".markdown pre")).to_contain_text('require("acme-widgets")')
        # The script, the handler and the javascript: link are inert.
        assert page.title() != "pwned" and not dialogs
        assert page.locator(".markdown script").count() == 0
        assert page.locator(".markdown [onerror]").count() == 0
        assert page.locator(".markdown a[href^='javascript']").count() == 0
        expect(page.locator("main")).to_contain_text("1.1.0")
        expect(page.locator("main")).to_contain_text("alice")
        shot(page, "package")
        # Restricted: 404 to anonymous and to bob, visible to alice.
        assert page.goto(server.url + "/-/web/package/@acme/secret").status == 404
        assert page.goto(server.url + "/-/web/packages?q=secret").ok
        expect(page.get_by_text("Nothing found.")).to_be_visible()
        sign_in(page, server.url, "bob")
        assert page.goto(server.url + "/-/web/package/@acme/secret").status == 404
        page.get_by_role("button", name="Sign out").click()
        sign_in(page, server.url, "alice")
        assert page.goto(server.url + "/-/web/package/@acme/secret").status == 200
        expect(page.locator("h1")).to_contain_text("private")
        assert page.goto(server.url + "/-/web/package/nope-missing").status == 404
        browser.close()
