"""A small LSP client for the tests: ``python -m rnnshape server`` as a child process, spoken
to over its pipes with JSON-RPC framed by ``Content-Length`` headers, as an editor would."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable, Optional

from cli_env import cli_env

WAIT = 60.0  # seconds before a test gives up on an answer (a hung server, not a timing check)


class LspClient:
    def __init__(self, root: Path):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "rnnshape", "server"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, cwd=root, env=cli_env())
        self.lock = threading.Condition()
        self.responses: dict[int, dict] = {}
        self.notifications: list[dict] = []
        self.next_id = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    # -------------------------------------------------------------- wire
    def _send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> None:
        stream = self.proc.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    with self.lock:
                        self.lock.notify_all()
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(stream.read(length))
            with self.lock:
                if "id" in message and "method" in message:
                    # A request of the server's own (progress, configuration): answer null.
                    self._send({"id": message["id"], "result": None})
                elif "id" in message:
                    self.responses[message["id"]] = message
                else:
                    self.notifications.append(message)
                self.lock.notify_all()

    def _wait(self, test: Callable[[], object], what: str):
        with self.lock:
            self.lock.wait_for(lambda: test() or self.proc.poll() is not None, WAIT)
            value = test()
        if not value:
            raise AssertionError(f"no {what} from the server; its stderr:\n{self.log()}")
        return value

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    # -------------------------------------------------------------- protocol
    def request(self, method: str, params) -> object:
        with self.lock:
            self.next_id += 1
            key = self.next_id
        self._send({"id": key, "method": method, "params": params})
        response = self._wait(lambda: self.responses.get(key), f"answer to {method}")
        assert "error" not in response, response["error"]
        return response["result"]

    def notify(self, method: str, params) -> None:
        self._send({"method": method, "params": params})

    def initialize(self, root: Path) -> dict:
        result = self.request("initialize", {
            "processId": None, "rootUri": root.as_uri(),
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            "capabilities": {"textDocument": {"publishDiagnostics": {"versionSupport": True}},
                             "notebookDocument": {"synchronization": {}}}})
        self.notify("initialized", {})
        return result

    def published(self, uri: str) -> list[dict]:
        """Every publishDiagnostics for ``uri`` so far, oldest first."""
        with self.lock:
            return [n["params"] for n in self.notifications
                    if n["method"] == "textDocument/publishDiagnostics"
                    and n["params"]["uri"] == uri]

    def diagnostics(self, uri: str, version: Optional[int] = None, after: int = 0) -> list[dict]:
        """The first diagnostics published for ``uri`` after the first ``after`` publications
        (and for ``version`` of the text, when given)."""
        def found():
            for params in self.published(uri)[after:]:
                if version is None or params.get("version") == version:
                    return params
            return None
        return self._wait(found, f"diagnostics for {uri}")["diagnostics"]

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": version, "text": text}})

    def change(self, uri: str, text: str, version: int) -> None:
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"text": text}]})

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.proc.wait(WAIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.stderr.close()


def apply_edits(text: str, edits: list[dict]) -> str:
    """LSP text edits (0-based lines and ASCII columns here) applied to ``text``."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position: dict) -> int:
        line = position["line"]
        return starts[min(line, len(lines))] + (position["character"] if line < len(lines) else 0)
    for edit in sorted(edits, key=lambda e: offset(e["range"]["start"]), reverse=True):
        text = text[:offset(edit["range"]["start"])] + edit["newText"] + \
            text[offset(edit["range"]["end"]):]
    return text
