"""GIMP's own Cancel (the status bar's) in the real GUI GIMP 3.0: the undo history stays
coherent.

GIMP answers its status-bar Cancel by killing the plug-in (SIGKILL: no clean-up of the
plug-in's own runs). The test kills the plug-in the same way while its job paints previews,
then presses Ctrl+Z in the image window as a user would, and checks that the one undo removed
the "(unfinished)" layer the kill left, not the user's earlier step (the preview layer is born
inside the run's undo group, which GIMP's clean-up closes after the kill).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image
from test_gimp_interactive import (  # noqa: F401  (display: the module's fixture)
    WAIT,
    Desktop,
    _running_job,
    _wait_file,
    display,
)

from impasto_protocol import Client

if TYPE_CHECKING:
    from conftest import GimpHost

pytestmark = pytest.mark.gimp

GUI_TIMEOUT = 150  # seconds for the whole GUI session
HEARTBEAT_TIMEOUT_S = 6.0  # the test daemon's --heartbeat-timeout (conftest.py)
EARLIER = "an earlier result"  # batch/kill_undo.py's step before the run
IMAGE_WINDOW = r"\*?\[[^]]*\]-[0-9]+\.0 .* – GIMP"
PLUGIN = "impasto-stylize.py"


def _plugin_pids(session: int) -> list[int]:
    """The plug-in's processes among those GIMP (the leader of `session`) started."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session and any(a.endswith(PLUGIN.encode()) for a in cmdline):
            pids.append(int(entry.name))
    return pids


def test_one_undo_after_a_killed_run_removes_its_unfinished_layer(
    gimp: GimpHost,
    display: str,  # noqa: F811  (the fixture imported above)
    load_example,
) -> None:
    out = gimp.shared / "out" / "kill-undo"
    out.mkdir(parents=True)
    load_example("astronaut").resize((64, 48), Image.Resampling.LANCZOS).save(out / "content.png")
    load_example("hubble", 48).save(out / "style.png")
    params = {
        "out": gimp.inside(out),
        "content": gimp.inside(out / "content.png"),
        "style": gimp.inside(out / "style.png"),
        "arguments": {"iterations": 100000, "preview-every": 1, "quality": "draft"},
        "wait": WAIT,
    }
    (gimp.shared / "kill_undo.json").write_text(json.dumps(params))
    desktop = Desktop(gimp, display, out)
    client = Client(gimp.endpoint, timeout=5.0)
    with open(out / "gimp.log", "w") as log:
        proc = subprocess.Popen(
            gimp.gui_command("kill_undo.py", display, GUI_TIMEOUT),
            stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        job = _running_job(client, timeout=90)  # iteration 2 or later: previews have landed
        pids = _plugin_pids(proc.pid)
        assert len(pids) == 1, f"expected one plug-in process, found {pids}"
        os.kill(pids[0], signal.SIGKILL)  # what GIMP's status-bar Cancel does
        killed = _wait_file(out / "killed.json", proc)
        assert killed["status"] != "success", killed
        # The kill left the layer with the last preview, named as unfinished, on top.
        assert killed["layers"][1:] == [EARLIER, "Background"], killed
        assert killed["layers"][0].endswith(" (unfinished)"), killed
        assert killed["undo_enabled"], killed
        # One Ctrl+Z removes that layer; the user's earlier step stays.
        desktop.press(desktop.window(IMAGE_WINDOW, proc), "ctrl+z")
        (out / "undo-pressed").touch()
        undone = _wait_file(out / "undone.json", proc)
        assert undone["layers"] == [EARLIER, "Background"], undone
        assert proc.wait(GUI_TIMEOUT) == 0, (out / "gimp.log").read_text()[-3000:]
        # The daemon lets the job go once the killed plug-in's heartbeats have stopped for its
        # timeout (6 s here): GIMP may have finished sooner than that.
        deadline = time.monotonic() + 3 * HEARTBEAT_TIMEOUT_S
        summary = client.status(job["job"])["job"]
        while summary["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
            summary = client.status(job["job"])["job"]
        assert summary["state"] != "running", summary
    finally:
        client.close()
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(10)
