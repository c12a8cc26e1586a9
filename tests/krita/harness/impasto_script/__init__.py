"""A Krita start-up plug-in that runs a test's own Python code inside the real Krita.

$IMPASTO_SCRIPT names a Python file that defines `steps(out)`: a generator run on Krita's event
loop once the main window exists. Each `yield` hands the loop back for that many milliseconds
(Krita finishes some work, such as making a new layer active, only on the loop); the
generator's return value (a JSON-able dict) is written to $IMPASTO_SCRIPT_OUT/evidence.json.
Krita exits with os._exit: 0 when the steps ran to their end, 2 on an exception (its traceback
in the evidence as `error`), 3 when they took longer than $IMPASTO_SCRIPT_TIMEOUT seconds.
Uncaught exceptions elsewhere (Krita shows a dialog and goes on) are kept as `script_errors`.
"""

from __future__ import annotations

import faulthandler
import json
import os
import runpy
import sys
import traceback
from pathlib import Path

from PyQt5.QtCore import QTimer

from krita import Extension, Krita

OUT = Path(os.environ["IMPASTO_SCRIPT_OUT"])
TIMEOUT_S = int(os.environ.get("IMPASTO_SCRIPT_TIMEOUT", "100"))
EVIDENCE: dict = {"python": sys.version, "script_errors": []}
STATE: dict = {}


def finish(code: int) -> None:
    """Write the evidence and leave at once (no save dialogs, no settings written)."""
    try:
        (OUT / "evidence.json").write_text(json.dumps(EVIDENCE, indent=1, default=str))
    finally:
        sys.stdout.flush()
        os._exit(code)


def advance() -> None:
    """Run the steps to their next `yield` (then come back after that many ms) or their end."""
    try:
        wait_ms = next(STATE["steps"])
    except StopIteration as end:
        EVIDENCE["result"] = end.value
        finish(0)
    except BaseException:
        EVIDENCE["error"] = traceback.format_exc()
        finish(2)
    else:
        QTimer.singleShot(int(wait_ms or 0), advance)


def start() -> None:
    STATE["stacks"] = open(OUT / "stacks.txt", "w")
    faulthandler.dump_traceback_later(TIMEOUT_S + 5, file=STATE["stacks"])
    QTimer.singleShot(TIMEOUT_S * 1000, lambda: finish(3))
    Krita.instance().setBatchmode(True)
    try:
        script = runpy.run_path(os.environ["IMPASTO_SCRIPT"])
        STATE["steps"] = script["steps"](OUT)
    except BaseException:
        EVIDENCE["error"] = traceback.format_exc()
        finish(2)
    advance()


def record_script_errors() -> None:
    def hook(kind, value, tb) -> None:
        EVIDENCE["script_errors"].append("".join(traceback.format_exception(kind, value, tb)))

    sys.excepthook = hook


class ScriptHarness(Extension):
    def setup(self) -> None:
        record_script_errors()
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(0, start))

    def createActions(self, window) -> None:
        pass


Krita.instance().addExtension(ScriptHarness(Krita.instance()))
