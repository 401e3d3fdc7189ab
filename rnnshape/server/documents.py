"""What the language server checks, without any of the protocol: an open document (or a
notebook's code cells) analysed as part of its workspace folder's project, the way
``rnnshape check <folder>`` would, but with the editor's unsaved text.

A ``Project`` is one workspace folder: its configuration, and who imports whom among its files
(read once; the server starts afresh after a save).  Its methods run on the server's worker
thread, one at a time.
"""
from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from rnnshape.api import Analysis, FixOptions, analyze, diagnostics_of, fix_source
from rnnshape.config import Config, ConfigError, load_config
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.files import discover
from rnnshape.notebook import Notebook, load_notebook
from rnnshape.per_file import scan_project
from rnnshape.project import ProjectMap, Resolver, Sources
from rnnshape.rules import REGISTRY
from rnnshape.syntax import Unit, parse

# A folder with more Python files than this is not scanned for importers (the scan reads
# every file): the open file and the modules it imports are still analysed together.
MAX_SCANNED_FILES = 5000


@dataclass
class Checked:
    """One analysis of a document at one version.  For a notebook, ``diagnostics`` carry the
    cell (1-based, among ``cells``) and rows within it; ``notebook`` maps program rows."""

    version: object
    text: str  # the program analysed (a notebook's cells joined)
    analysis: Optional[Analysis] = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notebook: Optional[Notebook] = None
    errors: list[str] = field(default_factory=list)  # one line each, for the log
    client_version: Optional[int] = None  # the editor's version of the text analysed


class Project:
    """A workspace folder (or, for a file outside every folder, the file's own folder), as
    it was when first needed: the server makes a new one after a save."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.errors: list[str] = []
        try:
            self.config = load_config(self.root, set(REGISTRY))
        except ConfigError as exc:
            self.errors.append(f"{exc}; using the default settings")
            self.config = Config(root=Path(self.root))
        self._map: Optional[ProjectMap] = None
        self._buffers: dict[str, tuple[str, Optional[Unit]]] = {}  # abspath -> parsed text

    def project_map(self) -> ProjectMap:
        if self._map is None:
            found = discover([self.root], exclude=self.config.is_excluded)
            files = [f for f in itertools.islice(found, MAX_SCANNED_FILES + 1)
                     if isinstance(f, str)]
            self._map = ProjectMap() if len(files) > MAX_SCANNED_FILES else \
                scan_project([os.path.abspath(f) for f in files], (self.root,))
        return self._map

    def check(self, path: str, text: str, version: object,
              buffers: dict[str, str]) -> Checked:
        """``text`` of the file at ``path`` as part of the project; ``buffers``: the unsaved
        text of the other open files (abspath -> text), read in place of the disk."""
        path = os.path.abspath(path)
        notebook = None
        program = text
        if path.endswith(".ipynb"):
            notebook = load_notebook(text, path)
            program = notebook.program()
        try:
            return self._checked(path, program, version, buffers, notebook)
        except FileError as exc:
            return Checked(version, program, notebook=notebook, errors=[str(exc)])

    def _checked(self, path: str, program: str, version: object, buffers: dict[str, str],
                 notebook: Optional[Notebook]) -> Checked:
        project = self.project_map() if notebook is None else ProjectMap()
        analysis = analyze(program, path, self.config.enabled_codes(path, REGISTRY),
                           self._sources(path, buffers), project.importers.get(path, ()),
                           path in project.linked, values=True)
        found = diagnostics_of(analysis, program, path, FixOptions())
        if notebook is not None:
            found = [notebook.map_diagnostic(d) for d in found]
        errors = list(analysis.errors) if analysis is not None else []
        return Checked(version, program, analysis, found, notebook, errors)

    def fixed(self, path: str, text: str, buffers: dict[str, str]) -> tuple[str, list[str]]:
        """The text once every safe fix is applied, as ``rnnshape fix`` would write it, and
        the errors on the way (one line each)."""
        path = os.path.abspath(path)
        project = self.project_map()
        try:
            result = fix_source(text, path, self.config.enabled_codes(path, REGISTRY),
                                FixOptions(unsafe=self.config.unsafe_fixes is True),
                                self._sources(path, buffers), project.importers.get(path, ()),
                                path in project.linked)
        except FileError as exc:
            return text, [str(exc)]
        return result.text, [str(FileError(path, e)) for e in result.errors]

    def _sources(self, path: str, buffers: dict[str, str]) -> Sources:
        """The project's modules as one file's run reads them: the other open files' unsaved
        text in place of the disk."""
        sources = Sources(Resolver((self.root,)))
        for other, other_text in buffers.items():
            key = os.path.abspath(other)
            unit = self._buffer_unit(key, other_text)
            if unit is not None and key != path:
                sources.units[key] = unit
        return sources

    def _buffer_unit(self, path: str, text: str) -> Optional[Unit]:
        """An open file's unsaved text, parsed once per text (None: it does not parse)."""
        cached = self._buffers.get(path)
        if cached is not None and cached[0] == text:
            return cached[1]
        try:
            unit = Unit(path, text, parse(text, path))
        except FileError:
            unit = None
        self._buffers[path] = (text, unit)
        return unit


def notebook_text(cells: list[str]) -> str:
    """A notebook's code cells, in order, as the ``.ipynb`` text ``load_notebook`` reads."""
    return json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                                  "outputs": [], "source": source} for source in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
