"""Private namespaces: what counts as always-local, and typos refused at start-up."""

from __future__ import annotations

import pytest

from airlock.namespaces import check_namespaces, in_namespaces
from airlock.settings import Settings
from airlock.uplink.documents import GarbageDocument, process


def test_scopes_cover_their_names_and_exact_names_only_themselves():
    entries = check_namespaces(["@Acme/", "corp-utils", "@other/lib"])
    assert entries == ["@acme", "corp-utils", "@other/lib"]
    assert in_namespaces("@acme/anything", entries)
    assert in_namespaces("corp-utils", entries) and in_namespaces("@other/lib", entries)
    assert not in_namespaces("@acmex/lib", entries)
    assert not in_namespaces("corp-utils-extra", entries)
    assert not in_namespaces("@other/lib2", entries)


def test_a_namespace_that_is_neither_scope_nor_name_is_refused_at_load():
    with pytest.raises(ValueError, match="neither a scope"):
        Settings(private_namespaces=["acme/*"])
    with pytest.raises(ValueError, match="uplink_url"):
        Settings(uplink_url="registry.npmjs.org")


def test_uplink_document_of_another_name_is_garbage():
    with pytest.raises(GarbageDocument):
        process(b'{"name": "other", "versions": {}}', "wanted", "http://x")
    with pytest.raises(GarbageDocument):
        process(b"[1, 2]", "wanted", "http://x")
