"""A seeded, bounded version of the reliability review's hand fuzz (Experiment 1): mutated
publish and stage bodies and odd names on many routes never get a 5xx, on either database,
and every refused write leaves nothing behind."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from tests.support.packages import make_tarball, publish_body
from tests.support.staging import auth, signup, swept_blob_files, version_rows

ODD_VALUES: list[Any] = [
    None,
    True,
    [],
    {},
    2**63,
    -(2**70),
    1e308,
    "",
    "\x00",
    "a\u0000b",
    "\u202e",
    "\ud7ff",
    "x" * 5000,
]


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key != "data":  # keep the base64 tarball itself; mutate around it
                found += _nodes(value, (*path, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _nodes(value, (*path, i))
    return found


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value} if depth % 2 else [value]
    return value


def _mutate(rng: random.Random, body: dict[str, Any]) -> Any:
    doc = copy.deepcopy(body)
    path = rng.choice(_nodes(doc)[1:])
    kind = rng.randrange(5)
    if kind == 0:
        return _set(doc, path, rng.choice(ODD_VALUES))
    if kind == 1:
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        return doc
    if kind == 2:
        return _set(doc, path, _deep(rng.choice([100, 260, 300, 900])))
    if kind == 3:
        manifest = doc["versions"]["1.0.0"]
        manifest[rng.choice(["readme", "x\u0000", "scripts", "bin"])] = rng.choice(ODD_VALUES)
        return doc
    extra = rng.choice([{"deep": _deep(300)}, {"description": "\x00"}, {"bin": 7}, {"os": "x"}])
    tarball = make_tarball("pkg-a", "1.0.0", extra)
    fresh = publish_body("pkg-a", "1.0.0", tarball)
    return fresh


@pytest.mark.parametrize("route", ["publish", "stage"])
async def test_mutated_bodies_never_get_a_server_error(client, app_ctx, route):
    token = await signup(client, "alice")
    rng = random.Random(f"airlock-{route}")
    statuses: dict[int, int] = {}
    base = publish_body("pkg-a", "1.0.0")
    for _ in range(120):
        doc = _mutate(rng, base)
        url = "/pkg-a" if route == "publish" else "/-/stage/package/pkg-a"
        send = client.put if route == "publish" else client.post
        resp = await send(url, json=doc, headers=auth(token))
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        assert resp.status_code < 500, (doc if len(str(doc)) < 2000 else "big", resp.text)
        assert resp.json().get("error") or resp.status_code < 300
    assert sum(statuses.values()) == 120
    # The number is taken after the first success, but every body is still parsed and
    # checked first. At most one version was stored, and no blob is left without its row.
    rows = await version_rows(app_ctx)
    assert len(rows) <= 1
    assert len(await swept_blob_files(app_ctx)) == len(rows)


NAME_PIECES = [
    "%2f",
    "%2F",
    "%2e%2e",
    "..",
    "%00",
    "%c0%ae",
    "%ff",
    "%ed%a0%80",
    "%e2%80%ae",
    "@",
    "%40",
    ":",
    "%3a",
    "%0d%0a",
    "%25",
    "%",
    "%zz",
    "\\",
    ";",
    "a" * 300,
    "A",
]
ROUTES = [
    "/{n}",
    "/{n}/1.0.0",
    "/{n}/-/{n}-1.0.0.tgz",
    "/-/package/{n}/dist-tags",
    "/-/package/{n}/collaborators",
    "/-/package/{n}/version/1.0.0/status",
    "/-/v1/search?text={n}",
    "/-/user/{n}",
    "/-/stage?package={n}",
    "/@{n}/-/x.tgz",
]


async def test_odd_names_on_read_routes_never_get_a_server_error(client):
    token = await signup(client, "alice")
    rng = random.Random("airlock-names")
    for _ in range(300):
        name = "".join(rng.choice(NAME_PIECES) for _ in range(rng.randint(1, 3)))
        path = rng.choice(ROUTES).replace("{n}", name)
        headers = auth(token) if rng.random() < 0.5 else {}
        resp = await client.get(path, headers=headers)
        assert resp.status_code < 500, (path, resp.text)
