"""Private namespaces: scopes and exact names that are always local (no other imports).

Settings validation uses this module, so it imports nothing from Airlock.
"""

from __future__ import annotations

import re

_SCOPE = re.compile(r"^@[a-z0-9][a-z0-9._~-]*$")
_NAME = re.compile(r"^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9._~-][a-z0-9._~-]*$")


def check_namespaces(entries: list[str]) -> list[str]:
    """Validate scopes ("@acme", "@acme/") and exact names ("corp-utils", "@x/y"); normalised.

    Checked when settings load so that a typo ("acme" meant as a scope) fails at start-up
    instead of silently leaving a private namespace proxied.
    """
    result = []
    for raw in entries:
        entry = raw.strip().lower()
        if entry.endswith("/") and _SCOPE.match(entry[:-1]):
            entry = entry[:-1]
        if not (_SCOPE.match(entry) or _NAME.match(entry)):
            raise ValueError(
                f"{raw!r} is neither a scope (@acme) nor a package name (corp-utils, @acme/lib)"
            )
        result.append(entry)
    return result


def in_namespaces(name: str, entries: list[str]) -> bool:
    """Whether `name` is one of the exact names or lies in one of the scopes."""
    lowered = name.lower()
    for entry in entries:
        if "/" not in entry and entry.startswith("@"):
            if lowered.startswith(entry + "/"):
                return True
        elif lowered == entry:
            return True
    return False
