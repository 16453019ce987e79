"""The pure TOTP helpers: window edges, formats, encryption at rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from airlock.settings import Settings
from airlock.twofactor import encryption, totp

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)  # a step boundary (divisible by 30)


def test_code_matches_pyotp_reference():
    secret = totp.new_secret()
    assert totp.code_at(secret, T0) == pyotp.TOTP(secret).at(T0)


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-31, False), (-30, True), (-1, True), (0, True), (29, True), (59, True), (60, False)],
)
def test_totp_window_is_one_step_either_side(offset, accepted):
    secret = totp.new_secret()
    code = totp.code_at(secret, T0)
    # The code of step S is accepted while the clock is in steps S-1, S, S+1 only.
    step = totp.matching_step(secret, code, T0 + timedelta(seconds=offset))
    assert (step == totp.time_step(T0)) is accepted


def test_code_from_two_steps_ago_is_refused():
    secret = totp.new_secret()
    old = totp.code_at(secret, T0 - timedelta(seconds=60))
    assert totp.matching_step(secret, old, T0) is None


def test_formats():
    assert totp.is_totp_code("123456")
    assert not totp.is_totp_code("12345")
    assert not totp.is_totp_code("12345a")
    assert totp.normalise(" 123 456 ") == "123456"
    assert totp.is_recovery_code("ab" * 32)
    assert not totp.is_recovery_code("ab" * 31)


def test_provisioning_url_carries_the_secret():
    url = totp.provisioning_url("JBSWY3DPEHPK3PXP", "alice", "Airlock")
    assert url.startswith("otpauth://totp/Airlock:alice?secret=JBSWY3DPEHPK3PXP")


def test_secrets_are_encrypted_and_old_keys_still_decrypt():
    old = Settings(secret_key="old-key-" + "x" * 20)
    blob = encryption.encrypt(old, "JBSWY3DPEHPK3PXP")
    assert b"JBSWY3DPEHPK3PXP" not in blob
    rotated = Settings(secret_key="new-key-" + "y" * 20, old_secret_keys=[old.secret_key])
    assert encryption.decrypt(rotated, blob) == "JBSWY3DPEHPK3PXP"
    fresh = encryption.reencrypt(rotated, blob)
    only_new = Settings(secret_key=rotated.secret_key)
    assert encryption.decrypt(only_new, fresh) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(encryption.SecretUndecryptable):
        encryption.decrypt(only_new, blob)
