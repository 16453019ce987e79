"""Make package folders and publish bodies for tests."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any


def make_package_dir(root: Path, name: str, version: str, **fields: Any) -> Path:
    """A folder npm can publish: package.json plus an index.js."""
    folder = root / f"{name.replace('/', '_').replace('@', '')}-{version}"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": name,
        "version": version,
        "description": f"test package {name}",
        "main": "index.js",
        "license": "MIT",
        **fields,
    }
    (folder / "package.json").write_text(json.dumps(manifest, indent=2))
    (folder / "index.js").write_text(f"module.exports = {json.dumps(name + '@' + version)};\n")
    return folder


def make_tarball(
    name: str,
    version: str,
    extra: dict[str, Any] | None = None,
    files: dict[str, bytes] | None = None,
) -> bytes:
    manifest = {"name": name, "version": version, **(extra or {})}
    entries = {
        "package/package.json": json.dumps(manifest).encode(),
        "package/index.js": b"module.exports = 1;\n",
    }
    for path, data in (files or {}).items():
        entries[f"package/{path}"] = data
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, data in entries.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def publish_body(
    name: str,
    version: str,
    tarball: bytes | None = None,
    *,
    tag: str = "latest",
    access: str | None = None,
    registry: str = "http://127.0.0.1",
) -> dict[str, Any]:
    """The JSON `npm publish` sends (see shared/npm-contract.md §3.1)."""
    data = tarball if tarball is not None else make_tarball(name, version)
    filename = f"{name}-{version}.tgz"
    return {
        "_id": name,
        "name": name,
        "description": "test",
        "dist-tags": {tag: version},
        "versions": {
            version: {
                "name": name,
                "version": version,
                "_id": f"{name}@{version}",
                "dist": {
                    "integrity": integrity(data),
                    "shasum": hashlib.sha1(data).hexdigest(),
                    "tarball": f"{registry}/{name}/-/{filename}",
                },
            }
        },
        "access": access,
        "_attachments": {
            filename: {
                "content_type": "application/octet-stream",
                "data": base64.b64encode(data).decode(),
                "length": len(data),
            }
        },
    }
