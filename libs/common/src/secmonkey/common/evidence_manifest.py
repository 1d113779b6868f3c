"""The manifest of an evidence package (`manifest.json` in the zip): the SHA-256 and size
of every other file in it, and the chain verification result when it was made.

`manifest_breaks` recomputes the hashes of a package, so `secmonkey verify --package`
names an edited, added or missing file as well as a broken chain. The manifest alone
proves nothing against someone who rewrites it too: the chain (anchored outside the
database) and the hash of the whole zip, written to the audit log at download, do.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from secmonkey.common.chain import Break

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "secmonkey-evidence-v1"
_BLOCK = 64 * 1024


def _sha256(archive: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with archive.open(name) as member:
        while block := member.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def manifest_breaks(path: Path) -> list[Break]:
    """Every file of the evidence zip at `path` that differs from its manifest (an empty
    list when the manifest holds); a zip with no manifest is one break."""
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        found = next((n for n in names if n.rsplit("/", 1)[-1] == MANIFEST), None)
        if found is None:
            return [Break("manifest", "", MANIFEST, "the package holds no manifest")]
        folder = found[: -len(MANIFEST)]
        try:
            manifest: dict[str, Any] = json.loads(archive.read(found))
            listed = {str(f["name"]): str(f["sha256"]) for f in manifest["files"]}
        except (ValueError, KeyError, TypeError) as exc:
            return [Break("manifest", "", MANIFEST, f"unreadable manifest: {exc}")]
        breaks = []
        present = {n[len(folder) :] for n in names if n.startswith(folder) and n != found}
        for name, digest in sorted(listed.items()):
            if name not in present:
                breaks.append(Break("manifest", "", name, "listed in the manifest, missing"))
            elif _sha256(archive, folder + name) != digest:
                breaks.append(Break("manifest", "", name, "SHA-256 differs from the manifest"))
        for name in sorted(present - set(listed)):
            breaks.append(Break("manifest", "", name, "not listed in the manifest"))
        return breaks
