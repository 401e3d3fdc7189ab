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
# What one file's work may read besides the file itself.  Project code is small and fits;
# a library's thousand-line modules would cost more to interpret than they can tell, so the
# budget (in lines) stops there and what is left out stays unknown.
MAX_DEPENDENCY_LINES = 2500  # one module
DEPENDENCY_BUDGET = 6000  # all modules a file's runs read
# At most this many importers of a file are run to learn the shapes it is called with, each
# of at most this many lines.
MAX_IMPORTERS = 3
MAX_IMPORTER_LINES = 2000
# Whether a file builds recurrent modules, as far as its text says: what makes the files that
# import it (and the files it is imported by) worth analysing.
RECURRENT_TEXT = re.compile(r"\b(?:LSTM|GRU|RNN)(?:Cell)?\s*\(")
# Parsed sources kept between the files a worker process handles: a module imported by many
# files of a project is parsed once.
PARSED_LIMIT = 2048
_PARSED: dict = {}

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
        if matters(_read(target)):
            relevant.add(target)
    recurrent = {p for p in relevant if RECURRENT_TEXT.search(texts.get(p) or _read(p))}
    linked = _linked(imports, recurrent)
    short = {p for p in files if texts.get(p, "").count("\n") <= MAX_IMPORTER_LINES}
    importers = importers_of(files, imports, ((relevant & set(files)) | linked) & short)
    # Callers matter to the files whose shapes they decide: those that build recurrent
    # modules or reach them.
    wanted = {os.path.abspath(p) for p in recurrent | linked}
    return ProjectMap({p: found for p, found in importers.items()
                       if os.path.abspath(p) in wanted}, frozenset(linked))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _linked(imports: dict[str, set[str]], recurrent: set[str], depth: int = 2) -> set[str]:
    """Files that reach recurrent code through at most ``depth`` local imports (``train.py``
    importing ``trainer.py`` importing ``model.py``), and do not mention it themselves."""
    hot = {os.path.abspath(p) for p in recurrent}
    linked: set[str] = set()
    for _ in range(depth):
        found = {path for path, targets in imports.items()
                 if os.path.abspath(path) not in hot
                 and any(os.path.abspath(t) in hot for t in targets)}
        if not found:
            break
        linked |= found
        hot |= {os.path.abspath(p) for p in found}
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



def _remember(key: str, sha: str, unit: Unit) -> None:
    if len(_PARSED) >= PARSED_LIMIT:
        _PARSED.pop(next(iter(_PARSED)))
    _PARSED[key] = (sha, unit)

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
    budget: int = DEPENDENCY_BUDGET  # lines of modules still to be read

    def unit(self, path: str, limit: bool = True) -> Optional[Unit]:
        """The parsed module at ``path``; None when it cannot be read or parsed, or (with
        ``limit``) when it would pass the per-module size or the job's budget."""
        key = os.path.abspath(path)
        if key in self.units:
            return self.units[key]
        self.units[key] = None  # also while it is being read: an import cycle sees nothing
        try:
            data = read_bytes(path)
            sha = hashlib.sha256(data).hexdigest()
            self.read[path] = sha
            unit = self._parsed(path, key, data, sha, limit)
        except (FileError, RecursionError, MemoryError):
            return None
        self.units[key] = unit
        return unit

    def _parsed(self, path: str, key: str, data: bytes, sha: str, limit: bool) -> Optional[Unit]:
        cached = _PARSED.get(key)
        if cached is not None and cached[0] == sha:
            unit = cached[1]
        else:
            text = decode_source(data, path).text
            if limit and text.count("\n") > min(MAX_DEPENDENCY_LINES, self.budget):
                return None
            unit = Unit(path, text, parse(text, path))
            _remember(key, sha, unit)
        lines = unit.text.count("\n")
        if limit:
            if lines > min(MAX_DEPENDENCY_LINES, self.budget):
                return None
            self.budget -= lines
        return unit

    def entry(self, path: str, text: str) -> Unit:
        """The file a run starts from, with the text it has in this job; FileError when it
        does not parse."""
        key = os.path.abspath(path)
        self.override[key] = text
        current = self.units.get(key)
        if current is not None and current.text == text:
            return current
        cached = _PARSED.get(key)
        if cached is not None and cached[1].text == text:
            unit = cached[1]  # the unit other files' runs used: what they found here counts
        else:
            unit = Unit(path, text, parse(text, path))
            _remember(key, hashlib.sha256(text.encode("utf-8")).hexdigest(), unit)
        self.units[key] = unit
        return unit

    # What the interpreter asks of a loader (``shapes.interp``): a path for an import, and
    # the parsed unit behind a path.
    def resolve(self, importer: str, module: str, level: int) -> Optional[str]:
        return self.resolver.resolve(importer, module, level)

    def submodule(self, package_file: str, name: str) -> Optional[str]:
        return self.resolver.submodule(package_file, name)
