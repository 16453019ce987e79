"""Error advice in the requesting client's words (web/npm/clients.py)."""

from __future__ import annotations

import pytest

from airlock.web.npm.clients import Client, client_of, localise


@pytest.mark.parametrize(
    "ua, client",
    [
        ("npm/11.19.1 node/v20.20.2 linux x64 workspaces/false", Client.NPM),
        ("pnpm/12.23.0 npm/? node/v20.20.2 linux x64", Client.PNPM),
        ("yarn/4.18.1 npm/? node/v20.20.2 linux x64", Client.YARN),
        ("python-httpx/0.28", Client.OTHER),
        (None, Client.OTHER),
    ],
)
def test_client_is_the_first_product_of_the_user_agent(ua, client):
    assert client_of(ua) == client


MESSAGE = (
    "This token can only stage versions. Run `npm stage publish` instead, then approve the "
    "stage with `npm stage approve <id>`."
)


def test_npm_keeps_its_words():
    assert localise(MESSAGE, "npm/11.19.1") == MESSAGE


def test_pnpm_and_yarn_get_their_commands():
    assert localise(MESSAGE, "pnpm/12.23.0") == MESSAGE.replace("`npm ", "`pnpm ")
    yarn = localise(MESSAGE, "yarn/4.18.1")
    assert "`yarn npm publish --staged`" in yarn and "`yarn npm stage approve <id>`" in yarn


def test_commands_a_client_lacks_stay_npm():
    text = "Manage them with `npm trust list`. (npm profile enable-2fa auth-and-writes)"
    assert localise(text, "pnpm/12") == (
        "Manage them with `npm trust list`. (pnpm profile enable-2fa auth-and-writes)"
    )
    assert localise(text, "yarn/4") == text


def test_an_unknown_client_gets_every_form_briefly():
    assert localise("Run `npm login --auth-type=legacy`.", "curl/8") == (
        "Run `npm login --auth-type=legacy`, `pnpm login`, `yarn npm login`."
    )
    assert localise("(npm profile set email)", None) == (
        "(npm profile set email, pnpm profile set email)"
    )
