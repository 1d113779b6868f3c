"""Build an evidence package on disk (spooled, a group or a page at a time) and stream it.

The zip holds `report.html`, `report.pdf` (and `report-N.pdf` parts for a long period),
`evidence.json`, one CSV per section, `chain.json` (the chain package `secmonkey verify
--package` checks offline) and `manifest.json`: the scope, the period, who asked and
when, the SHA-256 and size of every other file, and the chain verification result.
`secmonkey verify --package` recomputes the hashes of the manifest too, so an edited file
is named as a break.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from secmonkey.api.evidence import rows
from secmonkey.api.evidence.chain_file import write_chain
from secmonkey.api.evidence.files import ReportFiles
from secmonkey.common.chain import plain
from secmonkey.common.evidence_manifest import MANIFEST, MANIFEST_FORMAT
from secmonkey.common.storage import Database

CHUNK = 64 * 1024
WRITE_BATCH = 200


@dataclass(frozen=True)
class Package:
    """A finished package on disk; `chunks` streams it and removes it at the end."""

    path: Path
    name: str
    size: int
    sha256: str
    manifest: dict[str, Any]

    def chunks(self) -> Iterator[bytes]:
        try:
            with self.path.open("rb") as file:
                while chunk := file.read(CHUNK):
                    yield chunk
        finally:
            shutil.rmtree(self.path.parent, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write(files: ReportFiles, batch: list[Any]) -> None:
    for row in batch:
        files.row(row)


async def _fill(files: ReportFiles, section: str, found: AsyncIterator[Any]) -> list[Any]:
    """Write a section; rows are rendered (the PDF is CPU work) in a worker thread, a batch
    at a time, so the API keeps answering while a large package is built."""
    files.begin(section)
    kept: list[Any] = []
    batch: list[Any] = []
    async for row in found:
        batch.append(row)
        if section == "groups":
            kept.append(row.key)
        if len(batch) >= WRITE_BATCH:
            await asyncio.to_thread(_write, files, batch)
            batch = []
    await asyncio.to_thread(_write, files, batch)
    files.end()
    return kept


async def build(
    db: Database,
    period: rows.Period,
    *,
    requested_by: str,
    spool: str | None = None,
    pdf_rows: int = 2000,
) -> Package:
    """Write the package of `period` to a new spool folder and zip it there."""
    folder = Path(tempfile.mkdtemp(prefix="secmonkey-evidence-", dir=spool))
    try:
        return await _build(db, period, folder, requested_by, pdf_rows)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


async def _build(
    db: Database, period: rows.Period, folder: Path, requested_by: str, pdf_rows: int
) -> Package:
    now = datetime.now(UTC)
    scope = period.scope
    about = {
        "scope": scope.name,
        "scope description": scope.description,
        "from": period.start,
        "to": period.end,
        "generated_at": now,
        "requested_by": requested_by,
    }
    title = f"secmonkey evidence: scope {scope.name}, {plain(period.start)} to {plain(period.end)}"
    parts = folder / "files"
    parts.mkdir()
    files = ReportFiles(parts, title, about, pdf_rows)
    await _fill(files, "changes", rows.changes(db, period))
    candidates = await rows.scope_keys(db, period)
    keys = await _fill(files, "groups", rows.states(db, period, candidates))
    await _fill(files, "findings", rows.findings(db, period, keys))
    await _fill(files, "justifications", rows.justifications(db, period, keys))
    chain_path = parts / "chain.json"
    verification = (await write_chain(db, keys, chain_path)).as_dict()
    written = await asyncio.to_thread(files.close, verification)
    written.append(chain_path)
    about_json = {k.replace(" ", "_"): plain(v) for k, v in about.items()}
    name = f"secmonkey-evidence-{scope.name}-{now.strftime('%Y%m%dT%H%M%SZ')}"
    return await asyncio.to_thread(
        _zip, folder, name, written, about_json, files.counts, verification
    )


def _zip(
    folder: Path,
    name: str,
    written: list[Path],
    about: dict[str, Any],
    counts: dict[str, int],
    verification: dict[str, Any],
) -> Package:
    """The manifest (every file's SHA-256) and the zip, from the files on disk."""
    manifest = {
        "format": MANIFEST_FORMAT,
        **about,
        "counts": counts,
        "files": [
            {"name": p.name, "sha256": _digest(p), "bytes": p.stat().st_size} for p in written
        ],
        "chain_verification": verification,
    }
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for part in written:
            archive.write(part, f"{name}/{part.name}")  # read from disk in blocks
        archive.writestr(f"{name}/{MANIFEST}", json.dumps(manifest, indent=2, sort_keys=True))
    shutil.rmtree(written[0].parent)
    return Package(path, f"{name}.zip", path.stat().st_size, _digest(path), manifest)
