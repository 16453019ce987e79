"""npm wire shapes for `npm owner add|rm`.

`npm owner` reads the full packument (`maintainers`, `_rev`), looks the user up through
`GET /-/user/org.couchdb.user:<name>` (web/npm/users.py), then sends the whole new list as
`PUT /{name}/-rev/{rev}` with `{_id, _rev, maintainers}`, routed in publish.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from airlock.errors import BadRequest

router = APIRouter()


def maintainer_names_from(maintainers: Any) -> list[str]:
    if not isinstance(maintainers, list):
        raise BadRequest("maintainers must be a list of {name, email}.")
    names: list[str] = []
    for entry in maintainers:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise BadRequest("Every maintainer needs a name (is that user registered here?).")
        names.append(name)
    return names
