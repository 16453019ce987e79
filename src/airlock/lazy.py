"""Modules loaded on first attribute access (importlib's LazyLoader).

For heavy libraries that only rare routes use (cryptography through PyJWT, x509): every
worker process would otherwise carry them from start-up. Use as

    if TYPE_CHECKING:
        import jwt
    else:
        jwt = lazy_module("jwt")
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
