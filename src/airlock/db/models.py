"""Imports every model module so that Base.metadata knows all tables (Alembic, tests)."""

from airlock.accounts import models as accounts_models
from airlock.audit import models as audit_models
from airlock.notifications import models as notifications_models
from airlock.oidc import models as oidc_models
from airlock.packages import models as packages_models
from airlock.stage import models as stage_models
from airlock.storage import models as storage_models
from airlock.tokens import models as tokens_models
from airlock.twofactor import models as twofactor_models
from airlock.twofactor import web_codes as web_codes_models
from airlock.twofactor import webauthn as webauthn_models
from airlock.uplink import models as uplink_models
from airlock.webauth import models as webauth_models

__all__ = [
    "accounts_models",
    "audit_models",
    "notifications_models",
    "oidc_models",
    "packages_models",
    "stage_models",
    "storage_models",
    "tokens_models",
    "twofactor_models",
    "uplink_models",
    "web_codes_models",
    "webauth_models",
    "webauthn_models",
]
