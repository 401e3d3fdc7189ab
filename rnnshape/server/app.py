"""The language server: diagnostics as the user types, fixes as code actions, shapes on hover.

Analyses run one at a time on a worker thread, so the event loop keeps reading the client's
messages.  Each change bumps the document's generation and restarts its debounce timer; a
result is published only while its generation is still the document's, so an analysis that an
edit overtook is dropped, never shown after a newer one.
"""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from lsprotocol import types as lsp
from pygls.server import LanguageServer
from pygls.uris import to_fs_path

from rnnshape import __version__
from rnnshape.explain import value_at
from rnnshape.fixes import edits_between
from rnnshape.server import convert
from rnnshape.server.documents import Checked, Project, notebook_text

DEBOUNCE = 0.3  # seconds of quiet after an edit before it is analysed
FIX_ALL = f"{lsp.CodeActionKind.SourceFixAll.value}.rnnshape"


class Document:
    """What one open document (or notebook) is to the server."""

    def __init__(self, uri: str, notebook: bool = False):
        self.uri = uri
        self.notebook = notebook
        self.generation = 0
        self.task: Optional[asyncio.Task] = None
        self.checked: Optional[Checked] = None
        self.running: Optional[tuple] = None  # (generation, the analysis in progress)
        self.cells: list[str] = []  # a notebook's code cell uris, in order, as last analysed
        self.numbers: list[int] = []  # ... and where each is among all its cells (1-based)
        self.published: list[str] = []  # the cells whose diagnostics were last published


class RnnshapeServer(LanguageServer):
    def __init__(self):
        # Any notebook with Python cells: the cells are sent as they change (LSP 3.17).
        notebooks = lsp.NotebookDocumentSyncOptions(
            notebook_selector=[lsp.NotebookDocumentSyncOptionsNotebookSelectorType2(
                cells=[lsp.NotebookDocumentSyncOptionsNotebookSelectorType2CellsType(
                    language="python")])],
            save=True)
        super().__init__("rnnshape", __version__, notebook_document_sync=notebooks)
        self.documents: dict[str, Document] = {}
        self.projects: dict[str, Project] = {}
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="rnnshape")

    # ------------------------------------------------------------------ scheduling
    def changed(self, uri: str, delay: float, notebook: bool = False) -> None:
        doc = self.documents.setdefault(uri, Document(uri, notebook))
        doc.generation += 1
        if doc.task is not None:
            doc.task.cancel()
        doc.task = asyncio.ensure_future(self._check_later(doc, delay))

    def closed(self, uri: str) -> None:
        doc = self.documents.pop(uri, None)
        if doc is None:
            return
        if doc.task is not None:
            doc.task.cancel()
        for target in (doc.published if doc.notebook else [uri]):
            self.publish_diagnostics(target, [])
        # The others read its unsaved text until now: from here on they read the disk.
        for other, open_doc in list(self.documents.items()):
            self.changed(other, DEBOUNCE, open_doc.notebook)

    async def _check_later(self, doc: Document, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        checked = await self.fresh(doc)
        if checked is not None:
            self._publish(doc, checked)

    async def fresh(self, doc: Document) -> Optional[Checked]:
        """The analysis of the document as it is now; None when an edit overtook it.  The
        debounced check, a hover and a code action asking at one generation share one run."""
        if doc.checked is not None and doc.checked.version == doc.generation:
            return doc.checked
        if doc.running is None or doc.running[0] != doc.generation:
            doc.running = (doc.generation, asyncio.ensure_future(self._analysed(doc)))
        generation, run = doc.running
        # shielded: a cancelled debounce (a newer edit) must not cancel a run a hover awaits
        checked = await asyncio.shield(run)
        if doc.generation != generation or self.documents.get(doc.uri) is not doc:
            return None
        return checked

    async def _analysed(self, doc: Document) -> Optional[Checked]:
        generation = doc.generation
        loop = asyncio.get_running_loop()
        try:
            work = self._snapshot(doc)
            if work is None:
                return None
            project, path, text, buffers, client_version = work
            checked = await loop.run_in_executor(self.worker, project.check, path, text,
                                                 generation, buffers)
        except Exception as exc:  # the checker's own bug: say so, keep serving
            self.show_message_log(f"rnnshape: internal error on {doc.uri}: {exc!r}",
                                  lsp.MessageType.Error)
            return None
        if doc.generation != generation:
            return None
        for line in checked.errors:
            self.show_message_log(line, lsp.MessageType.Warning)
        checked.client_version = client_version
        doc.checked = checked
        return checked

    def _snapshot(self, doc: Document):
        path = self._path(doc.uri, ".ipynb" if doc.notebook else ".py")
        if doc.notebook:
            notebook = self.workspace.get_notebook_document(notebook_uri=doc.uri)
            if notebook is None:
                return None
            code = [(i, c.document) for i, c in enumerate(notebook.cells, 1)
                    if c.kind == lsp.NotebookCellKind.Code]
            doc.numbers, doc.cells = [i for i, _ in code], [uri for _, uri in code]
            text = notebook_text([self.workspace.get_text_document(c).source for c in doc.cells])
            version = notebook.version
        else:
            document = self.workspace.get_text_document(doc.uri)
            text, version = document.source, document.version
        return self.project_for(path), path, text, self._buffers(doc.uri), version

    def _buffers(self, skip: str) -> dict[str, str]:
        """The unsaved text of the other open Python files."""
        out = {}
        for uri, doc in self.documents.items():
            if uri != skip and not doc.notebook and uri.startswith("file:"):
                path = to_fs_path(uri)
                if path and path.endswith(".py"):
                    out[path] = self.workspace.get_text_document(uri).source
        return out

    def _path(self, uri: str, suffix: str) -> str:
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path is None:  # an untitled buffer: checked alone, as if in the workspace's root
            path = os.path.join(self.workspace.root_path or os.getcwd(), "untitled" + suffix)
        return os.path.abspath(path)

    def project_for(self, path: str) -> Project:
        folders = [to_fs_path(f.uri) for f in self.workspace.folders.values()]
        folders += [self.workspace.root_path]
        inside = [os.path.abspath(f) for f in folders if f and _under(path, os.path.abspath(f))]
        root = max(inside, key=len) if inside else os.path.dirname(path)
        if root not in self.projects:
            self.projects[root] = Project(root)
            for line in self.projects[root].errors:
                self.show_message_log(line, lsp.MessageType.Warning)
        return self.projects[root]

    async def fix_all(self, doc: Document, checked: Checked) -> list[lsp.CodeAction]:
        """``rnnshape fix`` on the buffer as one action (``source.fixAll``: what an editor's
        fix-on-save runs).  Not for notebooks, whose fixes are offered per finding."""
        if doc.notebook or not any(d.fix is not None for d in checked.diagnostics):
            return []
        document = self.workspace.get_text_document(doc.uri)
        path = self._path(doc.uri, ".py")
        loop = asyncio.get_running_loop()
        new, errors = await loop.run_in_executor(self.worker, self.project_for(path).fixed,
                                                 path, checked.text, self._buffers(doc.uri))
        for line in errors:
            self.show_message_log(line, lsp.MessageType.Warning)
        if new == checked.text or doc.checked is not checked:
            return []
        edits = [convert.text_edit(e, self.codec, document.lines)
                 for e in edits_between(checked.text, new)]
        return [lsp.CodeAction(title="rnnshape: apply every safe fix", kind=FIX_ALL,
                               edit=lsp.WorkspaceEdit(changes={doc.uri: edits}))]

    # ------------------------------------------------------------------ results
    def _publish(self, doc: Document, checked: Checked) -> None:
        if not doc.notebook:
            locate = self.locator(doc)
            self.publish_diagnostics(doc.uri, [convert.diagnostic(d, self.codec, locate)
                                               for d in checked.diagnostics],
                                     version=checked.client_version)
            return
        locate = self.locator(doc)
        # a cell deleted since the last analysis is cleared too
        per_cell: dict[str, list] = {uri: [] for uri in doc.published + doc.cells}
        for d in checked.diagnostics:
            shown = convert.diagnostic(d, self.codec, locate)
            per_cell.setdefault(locate(d.cell)[0], []).append(shown)
        for uri, found in per_cell.items():
            self.publish_diagnostics(uri, found)
        doc.published = list(doc.cells)

    @property
    def codec(self):
        return self.workspace.position_codec

    def locator(self, doc: Document) -> convert.Locate:
        """Cell index (1-based among the code cells; None outside a notebook) -> uri, lines."""
        def locate(cell: Optional[int]):
            uri = doc.uri if cell is None or not doc.notebook else doc.cells[cell - 1]
            return uri, self.workspace.get_text_document(uri).lines
        return locate

    def document_of(self, uri: str) -> tuple[Optional[Document], Optional[int]]:
        """The open document a uri belongs to, and the cell (1-based) when it is a cell."""
        if uri in self.documents:
            return self.documents[uri], None
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        doc = self.documents.get(notebook.uri) if notebook is not None else None
        if doc is None:
            return None, None
        cells = [c.document for c in notebook.cells if c.kind == lsp.NotebookCellKind.Code]
        return doc, (cells.index(uri) + 1 if uri in cells else None)


def _asks_for(only: Optional[list[str]], kind: str) -> bool:
    """Whether a request limited to the kinds ``only`` wants ``kind`` (``source`` asks for
    ``source.fixAll.rnnshape``; no list asks for the quick fixes only: computing the fix-all
    on every move of the cursor would cost an analysis per round of fixes)."""
    return bool(only) and any(kind == k or kind.startswith(k + ".") for k in only)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def build_server() -> RnnshapeServer:
    server = RnnshapeServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: RnnshapeServer, params: lsp.DidOpenTextDocumentParams):
        document = params.text_document
        python = document.language_id == "python" or document.uri.endswith((".py", ".pyi"))
        if python and ls.workspace.get_notebook_document(cell_uri=document.uri) is None:
            ls.changed(document.uri, 0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: RnnshapeServer, params: lsp.DidChangeTextDocumentParams):
        if params.text_document.uri in ls.documents:
            ls.changed(params.text_document.uri, DEBOUNCE)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: RnnshapeServer, params: lsp.DidSaveTextDocumentParams):
        saved(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: RnnshapeServer, params: lsp.DidCloseTextDocumentParams):
        ls.closed(params.text_document.uri)

    @server.feature(lsp.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_open(ls: RnnshapeServer, params: lsp.DidOpenNotebookDocumentParams):
        ls.changed(params.notebook_document.uri, 0, notebook=True)

    @server.feature(lsp.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_change(ls: RnnshapeServer, params: lsp.DidChangeNotebookDocumentParams):
        if params.notebook_document.uri in ls.documents:
            ls.changed(params.notebook_document.uri, DEBOUNCE, notebook=True)

    @server.feature(lsp.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_save(ls: RnnshapeServer, params: lsp.DidSaveNotebookDocumentParams):
        saved(ls, params.notebook_document.uri)

    @server.feature(lsp.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_close(ls: RnnshapeServer, params: lsp.DidCloseNotebookDocumentParams):
        ls.closed(params.notebook_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, FIX_ALL]))
    async def code_actions(ls: RnnshapeServer, params: lsp.CodeActionParams):
        doc, cell = ls.document_of(params.text_document.uri)
        checked = await ls.fresh(doc) if doc is not None else None
        if checked is None:
            return None
        only = params.context.only
        actions = []
        if not only or _asks_for(only, lsp.CodeActionKind.QuickFix.value):
            locate = ls.locator(doc)
            for d in checked.diagnostics:
                if d.cell != cell:
                    continue
                shown = convert.diagnostic(d, ls.codec, locate)
                if convert.overlaps(shown.range, params.range):
                    action = convert.code_action(d, shown, ls.codec, locate)
                    if action is not None:
                        actions.append(action)
        if _asks_for(only, FIX_ALL):
            actions.extend(await ls.fix_all(doc, checked))
        return actions

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    async def hover(ls: RnnshapeServer, params: lsp.HoverParams):
        doc, cell = ls.document_of(params.text_document.uri)
        checked = await ls.fresh(doc) if doc is not None else None
        if checked is None or checked.analysis is None:
            return None
        lines = ls.workspace.get_text_document(params.text_document.uri).lines
        where = ls.codec.position_from_client_units(lines, params.position)
        offset = 0
        locate = None
        if checked.notebook is not None:
            if cell is None:
                return None
            offset = checked.notebook.code_cells[cell - 1].start_row - 1
            locate = _cell_rows(checked.notebook, doc.numbers)
        found = value_at(checked.analysis, where.line + 1 + offset, where.character, locate)
        if found is None or found.row <= offset:
            return None
        rng = convert.span(ls.codec, lines, found.row - offset, found.column + 1,
                           found.end_row - offset, found.end_column + 1)
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown,
                                                    value=f"```text\n{found.text}\n```"),
                         range=rng)

    return server


def saved(ls: RnnshapeServer, uri: str) -> None:
    """Who imports whom may have changed (and the configuration, if that was saved), and
    every open file may depend on the saved one."""
    ls.projects.clear()
    for other, doc in list(ls.documents.items()):
        ls.changed(other, 0 if other == uri else DEBOUNCE, doc.notebook)


def _cell_rows(notebook, numbers: list[int]):
    """A program row as the user counts it: the cell (among all the notebook's cells, as the
    editor shows them) and the line in it."""
    def locate(row: int) -> str:
        try:
            cell, line = notebook.locate(row)
        except ValueError:
            return str(row)
        return f"cell {numbers[cell - 1]}:{line}" if cell <= len(numbers) else str(row)
    return locate
