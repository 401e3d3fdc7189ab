"""The checked paths as one program: which file an import names, which files import a file,
and the parsed sources a run reads (the file under analysis and the local modules it pulls in).

Resolution follows Python's: a relative import is resolved inside the importer's package; an
absolute one against the importer's own folder (the script path of ``python train.py``), the
folder above its top package, and the roots of the run (each directory given, or the folder
of each file given).  Only files under a root count as local: ``import torch`` inside the
torch tree still means the library.  Library names (torch, numpy, ...) are never local.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

from rnnshape.diagnostic import FileError
from rnnshape.files import decode_source, read_bytes
from rnnshape.syntax import Unit, parse

# Top-level names that are always libraries, whatever a project folder is called.
LIBRARIES = frozenset({"torch", "numpy", "pandas", "scipy", "sklearn", "matplotlib", "tqdm",
                       "torchvision", "torchaudio", "torchtext", "lightning",
                       "pytorch_lightning", "transformers", "os", "sys", "math", "random",
                       "json", "time", "re", "collections", "typing", "dataclasses", "argparse"})
# A local module pulled into another file's run is read only up to this size: project code is
# small, and a library's 5,000-line module costs more to interpret than it can tell.
MAX_DEPENDENCY_LINES = 3000
# At most this many local modules are read for one run.
MAX_DEPENDENCIES = 24
# At most this many importers of a file are run to learn the shapes it is called with.
MAX_IMPORTERS = 4

_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<dots>\.*)(?P<module>[\w.]*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^#\n]*)"
    r"|import[ \t]+(?P<plain>[^#\n]+))", re.MULTILINE)


@dataclass(frozen=True)
class ImportLine:
    module: str  # "" for ``from . import x``
    level: int
    names: tuple[str, ...]  # the names after ``from ... import`` (empty for ``import x``)


def import_lines(text: str) -> list[ImportLine]:
    """The imports of a file, read with a regular expression: cheap enough for every file of a
    tree, and an import it misreads only costs a missed caller."""
    out = []
    for m in _IMPORT.finditer(text):
        if m.group("plain") is not None:
            for part in m.group("plain").split(","):
                name = part.strip().split(" as ")[0].strip()
                if re.fullmatch(r"[\w.]+", name):
                    out.append(ImportLine(name, 0, ()))
            continue
        names = tuple(n.strip().split(" as ")[0].strip()
                      for n in m.group("names").strip("() \t\\").split(",") if n.strip())
        out.append(ImportLine(m.group("module"), len(m.group("dots")), names))
    return out


def roots_of(paths: Iterable[str]) -> tuple[str, ...]:
    """The folders that bound what is local: each directory given, the folder of each file."""
    found = []
    for path in paths:
        path = os.path.abspath(path)
        root = path if os.path.isdir(path) else os.path.dirname(path)
        if root not in found:
            found.append(root)
    return tuple(found)


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _package_root(directory: str) -> str:
    """The folder above the topmost package that holds ``directory``."""
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return directory


def _module_file(base: str, parts: list[str]) -> Optional[str]:
    target = os.path.join(base, *parts)
    for candidate in (target + ".py", os.path.join(target, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    return None


@dataclass(frozen=True)
class Resolver:
    roots: tuple[str, ...]

    def resolve(self, importer: str, module: str, level: int = 0) -> Optional[str]:
        """The local file ``import module`` (``level`` dots) names from ``importer``."""
        parts = [p for p in module.split(".") if p]
        here = os.path.dirname(os.path.abspath(importer))
        if level:
            base = here
            for _ in range(level - 1):
                base = os.path.dirname(base)
            bases = [base]
        else:
            if not parts or parts[0] in LIBRARIES:
                return None
            bases = [here, _package_root(here), *self.roots]
        for base in bases:
            found = _module_file(base, parts) if parts else _module_file(base, ["__init__"])
            if found is not None and _inside(found, self.roots):
                return found
        return None

    def submodule(self, package_file: str, name: str) -> Optional[str]:
        """``pkg.name`` as a file, when ``package_file`` is a package's ``__init__.py``."""
        if os.path.basename(package_file) != "__init__.py":
            return None
        found = _module_file(os.path.dirname(package_file), [name])
        return found if found is not None and _inside(found, self.roots) else None

    def imported_files(self, importer: str, text: str) -> set[str]:
        files = set()
        for line in import_lines(text):
            target = self.resolve(importer, line.module, line.level)
            if target is not None:
                files.add(target)
            for name in line.names:  # ``from pkg import mod`` names a file too
                base = target or (self.resolve(importer, "", line.level) if line.level else None)
                sub = self.submodule(base, name) if base else None
                if sub is not None:
                    files.add(sub)
        return files


@dataclass(frozen=True)
class ProjectMap:
    """What the prepass over a run's files learned: for each file, the files of the run that
    import it, and the files that use recurrent code only through a local import (``rnn =
    Net()``: no keyword in the file itself, yet worth analysing)."""

    importers: dict = field(default_factory=dict)
    linked: frozenset = frozenset()


def project_map(files: list[str], texts: dict[str, str], resolver: Resolver,
                matters) -> ProjectMap:
    """``matters(text)``: whether a file's own text can produce a finding.  Local modules
    that the files import from outside the run are read to learn that too."""
    imports = {path: resolver.imported_files(path, texts.get(path, "")) for path in files}
    relevant = {path for path in files if matters(texts.get(path, ""))}
    for target in {t for targets in imports.values() for t in targets} - set(files):
        try:
            with open(target, encoding="utf-8", errors="replace") as handle:
                if matters(handle.read()):
                    relevant.add(target)
        except OSError:
            continue
    linked = _linked(imports, relevant)
    return ProjectMap(importers_of(files, imports, (relevant & set(files)) | linked),
                      frozenset(linked))


def _linked(imports: dict[str, set[str]], relevant: set[str]) -> set[str]:
    """Files that reach a relevant file through their imports (and are not relevant)."""
    hot = {os.path.abspath(p) for p in relevant}
    linked: set[str] = set()
    changed = True
    while changed:
        changed = False
        for path, targets in imports.items():
            key = os.path.abspath(path)
            if key in hot:
                continue
            if any(os.path.abspath(t) in hot for t in targets):
                hot.add(key)
                linked.add(path)
                changed = True
    return linked


def importers_of(files: list[str], imports: dict[str, set[str]],
                 relevant: set[str]) -> dict[str, tuple[str, ...]]:
    """File -> the relevant files of the run that import it, directly or through another
    local module (nearest first, at most MAX_IMPORTERS)."""
    direct: dict[str, set[str]] = {}
    for path in files:
        for target in imports.get(path, ()):
            direct.setdefault(os.path.abspath(target), set()).add(path)
    out = {}
    for path in files:
        seen, frontier, found = {path}, [path], []
        while frontier and len(found) < MAX_IMPORTERS:
            nxt = []
            for item in frontier:
                for importer in sorted(direct.get(os.path.abspath(item), ())):
                    if importer in seen:
                        continue
                    seen.add(importer)
                    nxt.append(importer)
                    if importer in relevant and len(found) < MAX_IMPORTERS:
                        found.append(importer)
            frontier = nxt
        if found:
            out[path] = tuple(found)
    return out


@dataclass
class Sources:
    """The parsed sources of one file's work: read once, kept for every run of the job.

    ``override`` holds text that is not on disk yet (the file being fixed, a notebook's
    program, standard input); ``read`` records every file read and the hash of its bytes,
    which is what a cached result depends on."""

    resolver: Resolver
    override: dict = field(default_factory=dict)  # abspath -> text
    units: dict = field(default_factory=dict)  # abspath -> Unit or None (unusable)
    read: dict = field(default_factory=dict)  # path -> sha256 of its bytes

    def unit(self, path: str, limit: bool = True) -> Optional[Unit]:
        key = os.path.abspath(path)
        if key in self.units:
            return self.units[key]
        self.units[key] = None  # also while it is being read: an import cycle sees nothing
        loaded = sum(1 for u in self.units.values() if u is not None)
        if limit and (loaded >= MAX_DEPENDENCIES):
            return None
        try:
            text = self.override.get(key)
            if text is None:
                data = read_bytes(path)
                self.read[path] = hashlib.sha256(data).hexdigest()
                text = decode_source(data, path).text
            if limit and text.count("\n") > MAX_DEPENDENCY_LINES:
                return None
            unit = Unit(path, text, parse(text, path))
        except (FileError, RecursionError, MemoryError):
            return None
        self.units[key] = unit
        return unit

    def entry(self, path: str, text: str) -> Unit:
        """The file a run starts from, with the text it has in this job; FileError when it
        does not parse."""
        key = os.path.abspath(path)
        self.override[key] = text
        current = self.units.get(key)
        if current is not None and current.text == text:
            return current
        unit = Unit(path, text, parse(text, path))
        self.units[key] = unit
        return unit

    # What the interpreter asks of a loader (``shapes.interp``): a path for an import, and
    # the parsed unit behind a path.
    def resolve(self, importer: str, module: str, level: int) -> Optional[str]:
        return self.resolver.resolve(importer, module, level)

    def submodule(self, package_file: str, name: str) -> Optional[str]:
        return self.resolver.submodule(package_file, name)
