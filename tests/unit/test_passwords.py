"""Password hashes: argon2id at the documented cost; older and imported hashes still verify."""

from __future__ import annotations

import bcrypt
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from airlock.accounts.passwords import hash_password, verify_password


async def test_new_hashes_are_argon2id_at_19_mib_two_passes_one_lane():
    stored = await hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await verify_password(stored, "correct horse battery")
    assert not await verify_password(stored, "correct horse battery!")


async def test_hashes_made_with_other_parameters_still_verify():
    old = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY).hash("an older password")
    assert "m=65536" in old
    assert await verify_password(old, "an older password")
    assert not await verify_password(old, "another password")
    imported = bcrypt.hashpw(b"from verdaccio", bcrypt.gensalt(rounds=4)).decode()
    assert await verify_password(imported, "from verdaccio")
    assert not await verify_password(imported, "not it")
