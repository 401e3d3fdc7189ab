"""``rnnshape server``: a Language Server over standard input and output (pygls).

Loaded only by that command: ``check`` and ``fix`` never import pygls.
"""
from __future__ import annotations

import os
import sys


def run_server(args) -> int:
    try:
        from rnnshape.server.app import build_server
    except ImportError as exc:
        if exc.name not in ("pygls", "lsprotocol") and not str(exc.name).startswith(
                ("pygls.", "lsprotocol.")):
            raise
        sys.stderr.write("rnnshape: error: `rnnshape server` needs pygls: "
                         "pip install 'rnnshape[server]'\n")
        return 2
    # The protocol gets its own handle on standard output: pygls closes it on ``exit``, and a
    # stray print (from a library, say) goes to standard error instead of into the protocol.
    stream = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr
    build_server().start_io(sys.stdin.buffer, stream)
    return 0
