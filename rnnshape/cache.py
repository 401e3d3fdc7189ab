"""A cache of per-file results keyed by content, rnnshape version and settings.

Unchanged files are answered from ``.rnnshape_cache/`` without parsing: the key is a hash of
the file's bytes, its path (diagnostics name it), the version and the settings (the rules that
run, whether edits are wanted, the fix strategy shown), so any change
to one of them is a miss.  Entries are small JSON files written atomically; a corrupt or
unreadable entry is a miss, never an error.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Optional

from rnnshape import __version__
from rnnshape.diagnostic import Diagnostic, FileError

DEFAULT_DIR = ".rnnshape_cache"
# What an entry holds, within one version: raised when Diagnostic gains a field, so an entry
# written before (by a development build) is a miss rather than a diagnostic without it.
# 2: file_span, TraceLine.file_row, Fix.file_edits (a notebook finding's place in its JSON).
ENTRY_FORMAT = "2"


class Cache:
    def __init__(self, root: str):
        self.root = os.path.join(root, __version__)

    def key(self, path: str, data: bytes, extra: str = "") -> str:
        digest = hashlib.sha256()
        for part in (__version__, ENTRY_FORMAT, extra, os.path.abspath(path)):
            digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def _file(self, key: str) -> str:
        return os.path.join(self.root, key[:2], key + ".json")

    def get(self, key: str) -> Optional[tuple[list[Diagnostic], list[FileError], dict, list]]:
        """(diagnostics, errors, depends, warnings), or None on a miss: also when a file the
        result depended on (an imported module, an importer) has changed since."""
        try:
            with open(self._file(key), encoding="utf-8") as handle:
                entry = json.load(handle)
            depends = entry["depends"]
            if any(_digest(path) != sha for path, sha in depends.items()):
                return None
            errors = [FileError(e["filename"], e["message"], e.get("row")) for e in entry["errors"]]
            return ([Diagnostic.from_dict(d) for d in entry["diagnostics"]], errors, depends,
                    list(entry.get("warnings", [])))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, key: str, diagnostics: list[Diagnostic], errors: list[FileError],
            depends: Optional[dict] = None, warnings: Optional[list] = None) -> None:
        if any("internal error" in e.message or e.message.startswith("skipped:") for e in errors):
            # Our bug, or a time/memory limit that the next run may set higher: try again
            # next time rather than remember it.
            return
        entry = {"diagnostics": [d.to_dict() for d in diagnostics],
                 "errors": [{"filename": e.filename, "message": e.message, "row": e.row}
                            for e in errors],
                 "depends": depends or {}, "warnings": warnings or []}
        target = self._file(key)
        try:
            if not os.path.isdir(self.root):
                os.makedirs(self.root, exist_ok=True)
                # like other tools' caches: never committed by accident
                with open(os.path.join(os.path.dirname(self.root), ".gitignore"), "w") as handle:
                    handle.write("*\n")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entry, handle)
            os.replace(tmp, target)
        except OSError:
            pass  # a read-only tree still gets checked, just not cached


def _digest(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def open_cache(enabled: bool) -> Optional[Cache]:
    return Cache(os.path.abspath(DEFAULT_DIR)) if enabled else None
