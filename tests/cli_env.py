"""The environment for running ``python -m rnnshape`` in a child process from the tests."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli_env() -> dict:
    env = dict(os.environ)
    # Anything that could turn on colour or change the width would make outputs flaky.
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE",
                 "PYTHONWARNINGS"):
        env.pop(name, None)
    env.update(NO_COLOR="1", COLUMNS="200", TERM="dumb", PYTHONIOENCODING="utf-8")
    # The working tree, not some installed copy, is under test.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env
