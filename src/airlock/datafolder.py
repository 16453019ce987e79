"""The data folder: private to the server's user, and home of a generated secret key.

Without a configured secret key, the first start generates one and keeps it in
DATA/secret-key (mode 0600), so no two installations share a key (the old built-in key
was public). Settings.check_secrets refuses this for a non-loopback listener: instances
on several hosts must share one explicitly configured key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from airlock.settings import DEV_SECRET, Settings

KEY_FILE = "secret-key"


def prepare_data_folder(settings: Settings) -> None:
    """Create the folder 0700 and make sure `settings.secret_key` holds a real key."""
    settings.data.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # a folder someone else owns: leave its mode alone
        settings.data.chmod(0o700)
    if not settings.secret_key:
        settings.secret_key = _load_or_create(settings.data / KEY_FILE)
        # Secrets encrypted under the old public key stay readable until
        # `airlock rotate-secrets` re-encrypts them with this one.
        if DEV_SECRET not in settings.old_secret_keys:
            settings.old_secret_keys = [*settings.old_secret_keys, DEV_SECRET]


def _load_or_create(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    key = secrets.token_urlsafe(32)
    try:
        # O_EXCL: two processes starting at once on one folder agree on the first key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _wait_for_key(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


def _wait_for_key(path: Path) -> str:
    import time

    for _ in range(100):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.05)
    raise RuntimeError(f"{path} exists but is empty; delete it or set the secret key")
