"""A stage's tarball against a published version's: files added, removed, renamed, changed.

Computed from the two stored blobs in a worker thread. The file lists come from the
cached scans (tarscan); for the text files worth showing, one more streaming pass over
each tarball picks out just those members, within a byte budget, so memory stays
bounded by the limits below whatever the tarballs hold. Results are cached as JSON in
the blob store per (stage blob, compared blob) pair: both are content-addressed, so a
pair's diff never changes.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio

from airlock.context import AppContext
from airlock.stage import risk, tarscan
from airlock.stage.schemas import StageInfo
from airlock.storage.base import BlobMissing, StorageUnavailable

CACHE_VERSION = 1


@dataclass(frozen=True)
class Limits:
    max_files: int = 1000  # entries listed; the rest are counted
    max_file_bytes: int = 128 * 1024  # larger text files are listed, not diffed
    max_diff_bytes: int = 1024 * 1024  # all unified diffs together
    max_read_bytes: int = 8 * 1024 * 1024  # file contents held per side while diffing


LIMITS = Limits()
# Files a reviewer should read first: where install-time code and metadata live.
_FIRST = ("package.json", "binding.gyp")


def _order(path: str, fact: tarscan.FileFact | None) -> tuple[int, str]:
    if path in _FIRST:
        return (0, path)
    if fact is not None and (fact.generated or fact.secrets or fact.binary):
        return (1, path)
    return (2, path)


def plan(
    now: tarscan.TarballFacts, before: tarscan.TarballFacts | None, limits: Limits
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """File entries (no diff text yet) and the counts per status."""
    old = before.files if before else {}
    new = now.files
    added = {p for p in new if p not in old}
    removed = {p for p in old if p not in new}
    # A removed and an added file with the same content: a rename, not two changes.
    by_hash = {old[p].sha256: p for p in sorted(removed)}
    renamed: dict[str, str] = {}
    for path in sorted(added):
        source = by_hash.pop(new[path].sha256, None)
        if source is not None:
            renamed[path] = source
    entries: list[dict[str, Any]] = []
    for path in added - renamed.keys():
        entries.append(_entry(path, "added", None, new[path]))
    for path in removed - set(renamed.values()):
        entries.append(_entry(path, "removed", old[path], None))
    for path, source in renamed.items():
        entries.append({**_entry(path, "renamed", old[source], new[path]), "from": source})
    for path in new.keys() & old.keys():
        if new[path].sha256 != old[path].sha256:
            entries.append(_entry(path, "changed", old[path], new[path]))
    entries.sort(key=lambda e: _order(e["path"], new.get(e["path"])))
    counts = {s: sum(1 for e in entries if e["status"] == s) for s in _STATUSES}
    return entries, counts


_STATUSES = ("added", "removed", "renamed", "changed")


def _entry(
    path: str, status: str, old: tarscan.FileFact | None, new: tarscan.FileFact | None
) -> dict[str, Any]:
    return {
        "path": path,
        "status": status,
        "oldSize": old.size if old else None,
        "newSize": new.size if new else None,
        "binary": bool((old and old.binary) or (new and new.binary)),
    }


def _wanted(entries: list[dict[str, Any]], limits: Limits) -> tuple[set[str], set[str]]:
    """Paths whose text to read from (new, old) tarballs, within the read budget."""
    new_paths: set[str] = set()
    old_paths: set[str] = set()
    budget_new = budget_old = limits.max_read_bytes
    for e in entries:
        if e["status"] not in ("added", "changed") or e["binary"]:
            continue
        new_size, old_size = e["newSize"] or 0, e["oldSize"] or 0
        if max(new_size, old_size) > limits.max_file_bytes:
            e["truncated"] = f"not diffed: larger than {limits.max_file_bytes} bytes"
            continue
        if new_size > budget_new or old_size > budget_old:
            e["truncated"] = "not diffed: the diff's read budget is used up"
            continue
        budget_new -= new_size
        budget_old -= old_size
        new_paths.add(e["path"])
        if e["status"] == "changed":
            old_paths.add(e["path"])
    return new_paths, old_paths


def read_members(path: Path, wanted: set[str], cap: int) -> dict[str, bytes]:
    """The contents of `wanted` members (each at most `cap` bytes), in one streaming pass."""
    found: dict[str, bytes] = {}
    if not wanted:
        return found
    with path.open("rb") as fh:
        for tar, member, inner in tarscan.iter_members(fh):
            if inner not in wanted or member.size > cap:
                continue
            data = bytearray()
            for chunk in tarscan.read_chunks(tar, member):
                data += chunk
            found[inner] = bytes(data)
    return found


def _text(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def unified(path: str, old: bytes | None, new: bytes) -> str:
    lines = difflib.unified_diff(
        _text(old) if old is not None else [],
        _text(new),
        fromfile=f"a/{path}" if old is not None else "/dev/null",
        tofile=f"b/{path}",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def compute(
    new_path: Path,
    old_path: Path | None,
    now: tarscan.TarballFacts,
    before: tarscan.TarballFacts | None,
    limits: Limits = LIMITS,
) -> dict[str, Any]:
    """The diff body (runs in a worker thread)."""
    entries, counts = plan(now, before, limits)
    total_files = len(entries)
    truncated = total_files > limits.max_files or now.truncated or bool(before and before.truncated)
    entries = entries[: limits.max_files]
    new_paths, old_paths = _wanted(entries, limits)
    new_text = read_members(new_path, new_paths, limits.max_file_bytes)
    old_text = read_members(old_path, old_paths, limits.max_file_bytes) if old_path else {}
    budget = limits.max_diff_bytes
    for e in entries:
        if e["path"] not in new_text:
            continue
        old = old_text.get(e["path"]) if e["status"] == "changed" else None
        text = unified(e["path"], old, new_text.pop(e["path"]))
        old_text.pop(e["path"], None)
        size = len(text.encode())
        if size > budget:
            e["truncated"] = "not shown: the diff's size limit is reached"
            truncated = True
            continue
        budget -= size
        e["diff"] = text
    return {
        "files": entries,
        "summary": {**counts, "files": total_files},
        "truncated": truncated,
        "limits": {
            "maxFiles": limits.max_files,
            "maxFileBytes": limits.max_file_bytes,
            "maxDiffBytes": limits.max_diff_bytes,
        },
    }


def cache_key(new_blob: str, old_blob: str | None, limits: Limits) -> str:
    raw = json.dumps([new_blob, old_blob, asdict(limits), CACHE_VERSION]).encode()
    digest = hashlib.sha256(raw).hexdigest()
    return f"review/diffs/{digest[:2]}/{digest}.json"


async def stage_diff(ctx: AppContext, info: StageInfo, against: str | None) -> dict[str, Any]:
    """The diff of a stage the caller may view, against `against` or its tag's version."""
    p = await risk.pair(ctx, info, against)
    head = {
        "stageId": str(info.id),
        "package": info.package,
        "version": info.version,
        "comparedTo": p.compared.version if p.compared else None,
    }
    old_blob = p.compared.blob_key if p.compared else None
    key = cache_key(p.staged.blob_key, old_blob, LIMITS)
    with contextlib.suppress(BlobMissing, ValueError):
        return {**head, **json.loads(await ctx.blobs.read(key)), "cached": True}
    now = await tarscan.facts(ctx.blobs, p.staged.blob_key)
    before = await tarscan.facts(ctx.blobs, old_blob) if old_blob else None
    async with contextlib.AsyncExitStack() as stack:
        new_path = await stack.enter_async_context(tarscan.local_copy(ctx.blobs, p.staged.blob_key))
        old_path = (
            await stack.enter_async_context(tarscan.local_copy(ctx.blobs, old_blob))
            if old_blob
            else None
        )
        body = await anyio.to_thread.run_sync(compute, new_path, old_path, now, before)
    # Only a cache: a store that refuses the write (read-only key) still gets its diff.
    with contextlib.suppress(StorageUnavailable):
        await ctx.blobs.put(key, json.dumps(body).encode())
    return {**head, **body, "cached": False}
