"""Imports every model module so that Base.metadata knows all tables (Alembic, tests)."""

from airlock.accounts import models as accounts_models
from airlock.audit import models as audit_models
from airlock.oidc import models as oidc_models
from airlock.packages import models as packages_models
from airlock.storage import models as storage_models
from airlock.tokens import models as tokens_models

__all__ = [
    "accounts_models",
    "audit_models",
    "oidc_models",
    "packages_models",
    "storage_models",
    "tokens_models",
]
