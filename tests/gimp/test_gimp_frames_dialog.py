"""Style Transfer (Animation) as a user runs it from the menu, in the real GUI GIMP 3.0 on a
virtual X server (test_gimp_interactive.py's desktop): the dialog generated from the arguments,
OK, and the painted animation in a window of its own; then OK and the progress window's Cancel,
which cancels the clip job on the daemon and leaves no new image. One GIMP session
(batch/frames_dialog.py) makes both runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from test_gimp_frames import crops
from test_gimp_interactive import (  # noqa: F401  (display: the module's fixture)
    GUI_TIMEOUT,
    SEED_HEADER,
    WAIT,
    Desktop,
    _dialog_picture,
    _job_end,
    _wait_file,
    display,
)

from impasto_protocol import Client

if TYPE_CHECKING:
    from conftest import GimpHost

pytestmark = pytest.mark.gimp

# impasto_gimp.frames_procedure.DIALOG_TITLE, as the pattern xdotool matches window names with
DIALOG = r"Style Transfer \(Animation\)"
PROGRESS = "Style Transfer: running"  # impasto_gimp.dialog.PROGRESS_TITLE
LAST = "plug-in-settings/GimpProcedureConfigRun-plug-in-impasto-stylize-frames.last"
NAMES = ["Frame 1 (100ms)", "Frame 2 (250ms)"]
SHOWN = r".*, 2 layers\) 48x40 – GIMP"  # the new image's window (the source has none)


def _remember(gimp: GimpHost, values: str) -> None:
    """The values the dialog opens with, as GIMP keeps them after a run."""
    path = gimp.shared / "gimpcfg" / LAST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{SEED_HEADER}\n\n{values}\n\n# end of settings\n")


def _running_clip(client: Client) -> dict:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for job in client.status()["jobs"]:
            if job.get("kind") == "clip" and job["state"] == "running":
                return job
        time.sleep(0.2)
    raise AssertionError("the plug-in's clip job never ran")


def test_ok_shows_the_animation_and_cancel_leaves_none(
    gimp: GimpHost,
    display: str,  # noqa: F811  (test_gimp_interactive's fixture)
    load_example,
) -> None:
    out = gimp.shared / "out" / "frames_dialog"
    out.mkdir(parents=True)
    for name, picture in zip(("first.png", "second.png"), crops(load_example), strict=True):
        picture.save(out / name)
    params = {
        "out": gimp.inside(out),
        "frames": [gimp.inside(out / "first.png"), gimp.inside(out / "second.png")],
        "names": NAMES,
        "wait": WAIT,
    }
    (gimp.shared / "frames_dialog.json").write_text(json.dumps(params))
    _remember(gimp, '(mode "instant")\n(presets "3")')
    desktop = Desktop(gimp, display, out)
    with open(out / "gimp.log", "w") as log:
        proc = subprocess.Popen(
            gimp.gui_command("frames_dialog.py", display, GUI_TIMEOUT, "IMPASTO_GIMP_DEBUG=1"),
            stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        dialog = desktop.window(DIALOG, proc, timeout=90)
        _dialog_picture(desktop, dialog, "animation_dialog.png")  # (it fits a 1366x768 screen)
        desktop.press(dialog, "alt+o")  # the dialog's _OK
        run1 = _wait_file(out / "run1.json", proc)
        desktop.window(SHOWN, proc)
        # Run 2 paints the first frame for ever: the progress window's Cancel ends it.
        _remember(gimp, '(mode "paint")\n(presets "3")\n(iterations 100000)')
        (out / "go2").write_text("")
        desktop.press(desktop.window(DIALOG, proc), "alt+o")
        progress = desktop.window(PROGRESS, proc)
        with Client(gimp.endpoint, timeout=10.0) as client:
            job = _running_clip(client)
            desktop.press(progress, "alt+c")  # the progress window's _Cancel
            ended = _job_end(client, job["job"])
        run2 = _wait_file(out / "run2.json", proc)
        assert proc.wait(GUI_TIMEOUT) == 0, (out / "gimp.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(10)
    assert run1 == {"status": "success", "new_images": 1, "names": NAMES}, run1
    assert job["label"].startswith("GIMP: animation") and not job["detach"], job
    assert (ended["state"], ended["reason"]) == ("cancelled", "client"), ended
    assert run2 == {"status": "cancel", "new_images": 0}, run2
    gimp_log = (out / "gimp.log").read_text()
    assert "mnemonic" not in gimp_log, gimp_log[-3000:]
    # The progress counted frames, in the words the progress bar and window showed.
    counted = re.findall(r"progress: (Style transfer: .*)", gimp_log)
    assert len(counted) >= 2, gimp_log[-3000:]
    assert re.fullmatch(r"Style transfer: frame 2 of 2(, about \d+ s left)?", counted[0]), counted
    assert counted[1] == "Style transfer: all 2 frames painted", counted
