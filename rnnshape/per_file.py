"""One file's work, the same for ``check`` and ``fix``: read it, see a notebook as one program,
analyse (and fix) it under the per-file limits, and serve or fill the cache.  Then the same
over many files, in parallel, results in discovery order, a crashing worker costing only its
file.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterator, Optional

from rnnshape.api import FixOptions, analyze, diagnostics_of, fix_source
from rnnshape.syntax import python_tree
from rnnshape.cache import Cache
from rnnshape.config import Config
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.explain import call_shapes, render_text
from rnnshape.files import Source, decode_source, discover, read_bytes
from rnnshape.guard import DEFAULT_MEGABYTES, DEFAULT_SECONDS, guarded, limit_memory
from rnnshape.parallel import ordered_map
from rnnshape.prefilter import may_matter
from rnnshape.project import ProjectMap, Resolver, Sources, project_map, roots_of
from rnnshape.rules import REGISTRY

if TYPE_CHECKING:
    from rnnshape.notebook import Notebook

NOTEBOOK_SUFFIX = ".ipynb"


def is_notebook(path: str) -> bool:
    return path.endswith(NOTEBOOK_SUFFIX)


def load_notebook(text: str, path: str) -> "Notebook":
    from rnnshape.notebook import load_notebook as load  # only notebooks pay for the reader
    return load(text, path)


def mask_script(text: str) -> tuple[str, int]:
    from rnnshape.notebook import mask_script as mask  # only scripts that fail to parse pay
    return mask(text)


@dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    # fix only: the file as read, the text it becomes, and what the fixes removed
    source: Optional[Source] = None
    new_text: Optional[str] = None
    applied: Counter = field(default_factory=Counter)
    # the other files the result depends on (imported modules, importers): path -> sha256
    depends: dict = field(default_factory=dict)
    # what was left out of the check without failing it (a notebook cell that does not parse)
    warnings: list[str] = field(default_factory=list)
    shapes: str = ""  # ``--show-shapes``: what the tracker saw at each recurrent call

    @property
    def changed(self) -> bool:
        return self.source is not None and self.new_text is not None and \
            self.new_text != self.source.text


@dataclass(frozen=True)
class FileJob:
    """What to do with each file; picklable for the process pool.

    ``fix`` False: check (``options.batch_first`` chooses the fixes shown).  ``fix`` True:
    apply the fixes that ``options`` allow, then report what remains unless ``report`` is
    False (``--diff``/``--check`` only need the new text)."""

    config: Config
    options: FixOptions = FixOptions()
    fix: bool = False
    report: bool = True
    edits: bool = True  # each fix's edits: only machine-readable formats show them
    shapes: bool = False  # check only: explain each recurrent call (``--show-shapes``)
    cache: Optional[Cache] = None
    seconds: float = DEFAULT_SECONDS
    # The project: the folders that bound its local modules (default: the file's folder),
    # and what the prepass over the run's files learned (who imports whom).
    roots: tuple = ()
    project: ProjectMap = ProjectMap()

    def __call__(self, path: str) -> FileResult:
        try:
            data = read_bytes(path)
        except FileError as exc:
            return FileResult(path, errors=[exc])
        codes = self.codes_for(path)
        key = self._cache_key(path, data, codes)
        if key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                diagnostics, errors, depends, warnings = hit
                return _named(FileResult(path, diagnostics, errors, depends=depends,
                                         warnings=warnings), path)
        try:
            source = decode_source(data, path)
            result = guarded(path, lambda: self.run(path, source, codes), self.seconds)
        except FileError as exc:
            result = FileResult(path, errors=[exc])
        if key is not None:
            self.cache.put(key, result.diagnostics, result.errors, result.depends, result.warnings)
        return result

    def codes_for(self, path: str) -> frozenset:
        return frozenset(self.config.enabled_codes(path, REGISTRY))

    def _cache_key(self, path: str, data: bytes, codes) -> Optional[str]:
        if self.cache is None or self.fix or self.shapes:
            return None
        extra = ",".join(sorted(codes)) + ("+edits" if self.edits else "") + \
            ("+batch-first" if self.options.batch_first else "") + \
            "".join(f"|{p}" for p in self.project.importers.get(path, ())) + \
            ("+linked" if path in self.project.linked else "")
        return self.cache.key(path, data, extra)

    def sources(self, path: str) -> Sources:
        return Sources(Resolver(self.roots or roots_of([path])))

    def run(self, path: str, source: Source, codes) -> FileResult:
        notebook = load_notebook(source.text, path) if is_notebook(path) else None
        result = self._run(path, source, notebook, codes)
        if notebook is not None:
            result.warnings = [f"{path}:cell {index}: warning: skipped a cell that does not "
                               f"parse: {why}" for index, why in notebook.skipped]
        return result

    def _run(self, path: str, source: Source, notebook, codes) -> FileResult:
        if notebook is not None and not notebook.is_python:
            return FileResult(path, source=source, new_text=source.text)
        program = notebook.program() if notebook is not None else source.text
        sources = self.sources(path)
        importers = self.project.importers.get(path, ())
        linked = path in self.project.linked
        try:
            if self.fix:
                return self._fixed(path, source, notebook, program, codes, sources)
            analysis = analyze(program, path, codes, sources, importers, linked,
                               first_cell=_first_cell(notebook))
        except FileError as exc:
            if notebook is not None:
                raise _in_cells(notebook, exc) from None
            return self._exported(path, source, codes, sources, exc)
        found = diagnostics_of(analysis, program, path, self.options, self.edits)
        errors = analysis.errors if analysis is not None else []
        result = FileResult(path, _in_notebook(notebook, found), _errors(path, errors),
                            depends=_depends(sources, path))
        if self.shapes and analysis is not None:
            result.shapes = render_text(path, call_shapes(analysis), _cell_rows(notebook))
        return result

    def _exported(self, path: str, source: Source, codes, sources: Sources,
                  error: FileError) -> FileResult:
        """A script that does not parse because it keeps a notebook's IPython lines (``!pip
        install ...``): checked with them masked, rows unchanged, never rewritten."""
        program, count = mask_script(source.text)
        if not count or python_tree(program, path) is None:
            raise error
        importers = self.project.importers.get(path, ())
        analysis = analyze(program, path, codes, sources, importers, path in self.project.linked)
        found = [replace(d, fix=None) for d in
                 diagnostics_of(analysis, program, path, self.options, self.edits)]
        errors = analysis.errors if analysis is not None else []
        verb = "fixes nothing in it" if self.fix else "checks it without them"
        warning = (f"{path}: warning: {count} IPython line{'s' if count != 1 else ''} "
                   f"(an exported notebook?) do not parse as Python; rnnshape {verb}")
        return FileResult(path, found, _errors(path, errors), source=source,
                          new_text=source.text, depends=_depends(sources, path),
                          warnings=[warning])

    def _fixed(self, path, source: Source, notebook: Optional["Notebook"], program: str,
               codes, sources: Sources) -> FileResult:
        fixed = fix_source(program, path, codes, self.options, sources,
                           self.project.importers.get(path, ()), path in self.project.linked,
                           first_cell=_first_cell(notebook))
        if notebook is None:
            new_text = fixed.text
        elif fixed.text == program:
            new_text = source.text
        else:
            new_text = notebook.with_program(fixed.text)
        remaining = []
        if self.report:
            remaining = fixed.remaining(path, self.options, self.edits)
            if notebook is not None and remaining:
                notebook = load_notebook(new_text, path)
        errors = fixed.errors + [e for e in (fixed.analysis.errors if fixed.analysis else [])
                                 if e not in fixed.errors]
        return FileResult(path, _in_notebook(notebook, remaining), _errors(path, errors),
                          source, new_text, fixed.applied)


def _first_cell(notebook: Optional["Notebook"]) -> Optional[int]:
    """The index of a notebook's first code cell (None for a script): its program names the
    cells of the others."""
    if notebook is None or not notebook.code_cells:
        return None
    return notebook.code_cells[0].index


def _cell_rows(notebook: Optional["Notebook"]):
    if notebook is None:
        return None

    def locate(row: int) -> str:
        try:
            cell, line = notebook.locate(row)
        except ValueError:
            return str(row)
        return f"cell {cell}:{line}"
    return locate


def _depends(sources: Sources, path: str) -> dict:
    own = os.path.abspath(path)
    return {p: sha for p, sha in sources.read.items() if os.path.abspath(p) != own}


def _errors(path: str, messages: list[str]) -> list[FileError]:
    return [FileError(path, message) for message in messages]


def _in_notebook(notebook: Optional["Notebook"], diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    if notebook is None:
        return diagnostics
    return [notebook.map_diagnostic(d) for d in diagnostics]


def _in_cells(notebook: "Notebook", exc: FileError) -> FileError:
    """``exc`` with its program row said as a cell and a row in it.

    The row of a FileError on a notebook is otherwise read as a line of the JSON file (in the
    text report, and as a SARIF region), which a program row is not: the error keeps no row
    and names the cell in its message instead.
    """
    if not exc.row:
        return exc
    try:
        cell, line = notebook.locate(exc.row)
    except ValueError:
        return exc
    return FileError(exc.filename, f"cell {cell}, line {line}: {exc.message}")


def _named(result: FileResult, path: str) -> FileResult:
    """A cached result as this run spells the path (``a.py``, ``./a.py`` share one entry)."""
    for diagnostic in result.diagnostics:
        diagnostic.filename = path
    result.errors = [FileError(path, e.message, e.row) for e in result.errors]
    return result


def crashed(path: str) -> FileResult:
    # Twice, in a fresh process: a native crash or the memory cap, not bad luck.
    return FileResult(path, errors=[FileError(
        path, "skipped: the checker's process died on this file (out of memory or a crash in "
              "the parser; see --file-memory)")])


def run_files(paths: list[str], job: FileJob, jobs: int = 1, force_exclude: bool = False,
              megabytes: float = DEFAULT_MEGABYTES,
              counted: Optional[Callable[[int], None]] = None) -> Iterator[FileResult]:
    """``job`` over every file under ``paths``, in discovery order; a path that cannot be
    walked gives a result with its error.  ``counted`` is told how many results will come
    (a progress count) once the paths are walked."""
    items = list(discover(paths, force_exclude=force_exclude, exclude=job.config.is_excluded))
    if counted is not None:
        counted(len(items))
    files = [item for item in items if not isinstance(item, FileError)]
    roots = job.roots or roots_of(paths)
    job = replace(job, roots=roots, project=scan_project(files, roots))
    results = iter(ordered_map(job, files, jobs, on_crash=crashed, initializer=limit_memory,
                               initargs=(megabytes,)))
    for item in items:
        if isinstance(item, FileError):
            yield FileResult(item.filename, errors=[item])
        else:
            yield next(results)


def scan_project(files: list[str], roots: tuple) -> ProjectMap:
    """Who imports whom among the run's files, read cheaply (a regular expression over each
    file, no parse)."""
    scripts = [f for f in files if f.endswith(".py")]
    texts = {}
    for path in scripts:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                texts[path] = handle.read()
        except OSError:
            continue
    return project_map(scripts, texts, Resolver(roots), may_matter)


def run_text(name: str, text: str, job: FileJob) -> FileResult:
    """``job`` on source that did not come from a file (``-``: standard input)."""
    source = Source(text, "utf-8", False)
    try:
        return guarded(name, lambda: job.run(name, source, job.codes_for(name)),
                       job.seconds)
    except FileError as exc:
        return FileResult(name, errors=[exc], source=source, new_text=text)
