"""A cache of per-file results keyed by content, rnnshape version and settings.

Unchanged files are answered from ``.rnnshape_cache/`` without parsing: the key is a hash of
the file's bytes, its path (diagnostics name it), the version and the settings, so any change
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


class Cache:
    def __init__(self, root: str, settings_key: str):
        self.root = os.path.join(root, __version__)
        self.settings_key = settings_key

    def key(self, path: str, data: bytes, extra: str = "") -> str:
        digest = hashlib.sha256()
        for part in (__version__, self.settings_key, extra, os.path.abspath(path)):
            digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(data)
        return digest.hexdigest()

    def _file(self, key: str) -> str:
        return os.path.join(self.root, key[:2], key + ".json")

    def get(self, key: str):
        """A list of diagnostics, a FileError, or None on a miss."""
        try:
            with open(self._file(key), encoding="utf-8") as handle:
                entry = json.load(handle)
            if "error" in entry:
                err = entry["error"]
                return FileError(err["filename"], err["message"], err.get("row"))
            return [Diagnostic.from_dict(d) for d in entry["diagnostics"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, result) -> None:
        if isinstance(result, FileError):
            if "internal error" in result.message or result.message.startswith("skipped:"):
                # Our bug, or a time/memory limit that the next run may set higher: try again
                # next time rather than remember it.
                return
            entry = {"error": {"filename": result.filename, "message": result.message,
                               "row": result.row}}
        else:
            entry = {"diagnostics": [d.to_dict() for d in result]}
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


def settings_key(settings, batch_first: bool = False) -> str:
    return json.dumps({"select": sorted(settings.select) if settings.select is not None else None,
                       "ignore": sorted(settings.ignore), "batch_first": batch_first},
                      sort_keys=True)


def open_cache(enabled: bool, settings, batch_first: bool = False) -> Optional[Cache]:
    if not enabled:
        return None
    return Cache(os.path.abspath(DEFAULT_DIR), settings_key(settings, batch_first))
