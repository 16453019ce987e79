"""The in-process token cache (tokens/lookup.py): one lookup per token at a time, entries
refreshed ahead of their expiry, and a revocation by another instance refused within the
ttl."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, update

from airlock.errors import Unauthorized
from airlock.tokens.lookup import TokenAuthenticator
from airlock.tokens.models import Token
from airlock.tokens.secrets import hash_token
from tests.support.staging import signup


def _count_token_lookups(app_ctx) -> list[str]:
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM tokens" in statement:
            seen.append(statement)

    event.listen(app_ctx.db.engine.sync_engine, "before_cursor_execute", listen)
    return seen


async def test_concurrent_misses_share_one_lookup(app_ctx, client):
    token = await signup(client, "alice")
    tokens = TokenAuthenticator(app_ctx.db, app_ctx.clock, ttl=5.0)
    lookups = _count_token_lookups(app_ctx)
    answers = await asyncio.gather(*(tokens.authenticate(token, "127.0.0.1") for _ in range(50)))
    assert {user.name for user, _ in answers} == {"alice"}
    assert len(lookups) == 1


async def test_an_entry_is_refreshed_ahead_and_a_revocation_elsewhere_is_refused(app_ctx, client):
    token = await signup(client, "bob")
    tokens = TokenAuthenticator(app_ctx.db, app_ctx.clock, ttl=0.5)
    lookups = _count_token_lookups(app_ctx)
    await tokens.authenticate(token, "127.0.0.1")
    # Another instance revokes it: only the database knows.
    async with app_ctx.db.write() as session:
        await session.execute(
            update(Token)
            .where(Token.token_hash == hash_token(token))
            .values(revoked_at=app_ctx.clock.now())
        )
    await asyncio.sleep(0.42)  # past 80% of the ttl: still served, refreshed meanwhile
    user, _ = await tokens.authenticate(token, "127.0.0.1")
    assert user.name == "bob"
    await asyncio.sleep(0.05)
    assert len(lookups) == 2  # the refresh ran without anyone waiting for it
    # The refresh found it revoked: refused now, before the ttl is over.
    with pytest.raises(Unauthorized):
        await tokens.authenticate(token, "127.0.0.1")


async def test_an_eviction_is_not_undone_by_a_load_in_flight(app_ctx, client):
    token = await signup(client, "carol")
    tokens = TokenAuthenticator(app_ctx.db, app_ctx.clock, ttl=5.0)
    loading = asyncio.ensure_future(tokens.authenticate(token, "127.0.0.1"))
    await asyncio.sleep(0)  # the load has started
    tokens.evict(hash_token(token))  # e.g. revoked by this process meanwhile
    await loading
    lookups = _count_token_lookups(app_ctx)
    await tokens.authenticate(token, "127.0.0.1")
    assert len(lookups) == 1  # looked up again: the earlier load did not refill the cache
