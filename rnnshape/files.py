"""Finding, reading and writing the files a run works on."""
from __future__ import annotations

import io
import re
import os
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional


from rnnshape.config import Pattern, compile_pattern
from rnnshape.diagnostic import FileError

SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", ".env", ".tox",
             ".nox", "build", "dist", "node_modules", ".mypy_cache", ".pytest_cache",
             ".ruff_cache", ".rnnshape_cache", "site-packages", ".eggs", ".ipynb_checkpoints"}
SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
MAX_BYTES = 20 * 1024 * 1024


def discover(paths: list[str], force_exclude: bool = False,
             exclude: Optional[Callable[[str], bool]] = None) -> Iterator[str | FileError]:
    """Files to check, in a stable order; a path that cannot be used comes back as an error.

    Directories are walked honouring every ``.gitignore`` from the repository root down.
    A file named explicitly is checked even if ignored, unless ``force_exclude`` is set
    (what pre-commit wants: it passes every staged file by name).
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path, exclude)
        elif path.exists() or path.is_symlink():
            if path.is_symlink() and not path.exists():
                yield FileError(raw, "broken symbolic link")
            elif force_exclude and (_ignored_by_git(path) or (exclude and exclude(raw, None))):
                continue
            else:
                yield raw
        else:
            yield FileError(raw, "no such file or directory")


class _GitIgnores:
    """The ``.gitignore`` files that apply under a walk, deepest deciding first, like git."""

    def __init__(self):
        self.specs: dict[str, Optional[list[Pattern]]] = {}

    def spec(self, directory: str) -> Optional[list[Pattern]]:
        if directory not in self.specs:
            spec = None
            try:
                with open(os.path.join(directory, ".gitignore"), encoding="utf-8",
                          errors="replace") as handle:
                    spec = [p for p in map(compile_pattern, handle.read().splitlines()) if p]
            except OSError:
                pass
            self.specs[directory] = spec
        return self.specs[directory]

    @staticmethod
    def decide(patterns: list[Pattern], rel: str, is_dir: bool) -> Optional[bool]:
        """True ignored, False re-included by a ``!`` pattern, None when no pattern matches."""
        decision = None
        for pattern in patterns:
            if pattern.matches(rel, is_dir):
                decision = not pattern.negated
        return decision

    def ignored(self, path: str, is_dir: bool, top: Optional[str] = None) -> bool:
        """Whether git ignores ``path``; with ``top``, .gitignore files above it do not count."""
        path = os.path.abspath(path)
        directory = os.path.dirname(path)
        while True:
            spec = self.spec(directory)
            if spec:
                rel = os.path.relpath(path, directory).replace(os.sep, "/")
                decision = self.decide(spec, rel, is_dir)
                if decision is not None:
                    return decision
            if os.path.isdir(os.path.join(directory, ".git")) or directory == top:
                return False  # patterns above the repository root (or the named tree) do not apply
            parent = os.path.dirname(directory)
            if parent == directory:
                return False
            directory = parent


_IGNORES = _GitIgnores()


def _ignored_by_git(path: Path) -> bool:
    """For a path named explicitly: ignored itself, or inside an ignored directory."""
    current = path.resolve()
    while True:
        if _IGNORES.ignored(str(current), current.is_dir()):
            return True
        if (current / ".git").is_dir() or current.parent == current:
            return False
        current = current.parent


def _walk(root: Path, exclude=None) -> Iterator[str | FileError]:
    ignores = _IGNORES
    # A tree named explicitly is walked even if git ignores it as a whole (a virtualenv's
    # site-packages inside a repository): then only .gitignore files inside it count.
    top = os.path.abspath(root) if ignores.ignored(str(root), True) else None
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames
            # With a configuration (``exclude``) its patterns decide, the defaults included,
            # so that ``exclude`` can bring back a folder named build or env.
            if (exclude is not None or (d not in SKIP_DIRS and not d.endswith(".egg-info")))
            and not os.path.exists(os.path.join(dirpath, d, "pyvenv.cfg"))  # any virtualenv
            and not ignores.ignored(os.path.join(dirpath, d), True, top)
            and not (exclude and exclude(os.path.join(dirpath, d), str(root))))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if name.endswith(SOURCE_SUFFIXES) and not ignores.ignored(full, False, top) \
                    and not (exclude and exclude(full, str(root))):
                entries.append(full)
    for entry in sorted(entries):
        if os.path.islink(entry) and not os.path.exists(entry):
            yield FileError(entry, "broken symbolic link")
        else:
            yield entry


@dataclass(frozen=True)
class Source:
    text: str
    encoding: str = "utf-8"
    bom: bool = False

    def encode(self, text: str) -> bytes:
        data = text.encode(self.encoding)
        return (b"\xef\xbb\xbf" + data) if self.bom else data


def read_source(path: str) -> str:
    """The decoded text of a Python file, honouring a BOM and PEP 263 cookies."""
    return read_source_file(path).text


def read_source_file(path: str) -> Source:
    return decode_source(read_bytes(path), path)


def read_bytes(path: str) -> bytes:
    if os.path.isdir(path):
        raise FileError(path, "is a directory")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise FileError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise FileError(path, f"file larger than {MAX_BYTES // (1024 * 1024)} MiB, skipped")
    return data


def decode_source(data: bytes, path: str) -> Source:
    if b"\x00" in data:
        raise FileError(path, "contains NUL bytes, not a Python source file")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "invalid or missing" in str(exc) and not re.search(rb"^[ \t\f]*#.*?coding[:=]", data[:400], re.M):
            raise FileError(path, "not valid UTF-8 (and no encoding declaration)") from None
        raise FileError(path, f"bad encoding declaration: {exc}") from None
    bom = encoding == "utf-8-sig"
    if bom:
        encoding = "utf-8"
        data = data[3:]
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise FileError(path, f"not valid {encoding}: {reason}") from None
    return Source(text, encoding, bom)


def write_atomic(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a reader never sees a half-written file."""
    target = Path(path)
    mode = target.stat().st_mode if target.exists() else None
    fd, tmp = tempfile.mkstemp(dir=str(target.parent), prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
