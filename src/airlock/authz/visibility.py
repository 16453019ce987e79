"""The one rule for who may see a package, in two forms: a pure check and a SQL clause.

A caller sees a package when
- its token (if any) is not limited away from it: a granular token limited to packages or
  scopes, and a trusted-publishing token (limited to its one package), see nothing else;
- and the package is public, or the caller is one of its maintainers.

Everything else is answered as if the package did not exist (404). `can_see` works on
plain facts (no database), so a cached read path can call it on facts it keeps in memory;
`visible_clause` is the same rule for listings, search and stage lists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression, false, or_, true

from airlock.authz.principal import Principal, TokenScope


@dataclass(frozen=True)
class PackageFacts:
    """What the rule needs to know about a package, and nothing else."""

    name: str
    restricted: bool
    maintainer_ids: frozenset[uuid.UUID]

    @classmethod
    def of(cls, name: str, access: str, maintainer_ids: Iterable[uuid.UUID]) -> PackageFacts:
        return cls(
            name=name, restricted=access != "public", maintainer_ids=frozenset(maintainer_ids)
        )


def token_allows(principal: Principal, name: str) -> bool:
    """Whether the caller's token limits (packages, scopes, trusted publishing) cover `name`."""
    return principal.token is None or principal.token.covers_package(name)


def maintains(principal: Principal, facts: PackageFacts) -> bool:
    """A maintainer acting through a credential that may touch this package."""
    return (
        principal.user is not None
        and principal.user.id in facts.maintainer_ids
        and token_allows(principal, facts.name)
    )


def can_see(principal: Principal, facts: PackageFacts) -> bool:
    """The visibility rule on plain facts (pure: safe on cached data)."""
    if not token_allows(principal, facts.name):
        return False
    return not facts.restricted or maintains(principal, facts)


def can_see_stage(principal: Principal, facts: PackageFacts, stager_id: uuid.UUID | None) -> bool:
    """A staged version: its package's maintainers and whoever staged it, within the
    token's limits. (Being public does not make a stage visible: it is not released.)"""
    if principal.user is None or not token_allows(principal, facts.name):
        return False
    return principal.user.id in facts.maintainer_ids or principal.user.id == stager_id


def token_limit_clause(
    token: TokenScope | None, name: SQLColumnExpression[str]
) -> ColumnElement[bool]:
    """The SQL form of TokenScope.covers_package over the package-name column `name`."""
    if token is None or (not token.packages and not token.scopes):
        return true()
    clauses: list[ColumnElement[bool]] = []
    if token.packages:
        clauses.append(name.in_(token.packages))
    clauses.extend(name.startswith(f"{scope}/", autoescape=True) for scope in token.scopes)
    return or_(false(), *clauses)


@dataclass(frozen=True)
class PackageColumns:
    """Where the facts live in SQL (the packages domain owns the tables and says so)."""

    name: SQLColumnExpression[str]
    access: SQLColumnExpression[str]
    maintained_by: Callable[[uuid.UUID], ColumnElement[bool]]


def maintained_clause(principal: Principal, cols: PackageColumns) -> ColumnElement[bool]:
    """SQL form of `maintains`: packages the caller maintains, within the token's limits."""
    if principal.user is None:
        return false()
    return token_limit_clause(principal.token, cols.name) & cols.maintained_by(principal.user.id)


def stage_visible_clause(
    principal: Principal, cols: PackageColumns, stager: SQLColumnExpression[uuid.UUID | None]
) -> ColumnElement[bool]:
    """SQL form of `can_see_stage`; `stager` is the column holding who staged it."""
    if principal.user is None:
        return false()
    mine = or_(cols.maintained_by(principal.user.id), stager == principal.user.id)
    return token_limit_clause(principal.token, cols.name) & mine


def visible_clause(principal: Principal, cols: PackageColumns) -> ColumnElement[bool]:
    """SQL form of `can_see` (for listings, search and stage lists)."""
    seen: ColumnElement[bool] = cols.access == "public"
    if principal.user is not None:
        seen = or_(seen, cols.maintained_by(principal.user.id))
    return token_limit_clause(principal.token, cols.name) & seen
