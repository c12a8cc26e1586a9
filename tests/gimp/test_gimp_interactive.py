"""The interactive path in the real GUI GIMP 3.0: the settings dialog, the progress window with
its graceful Cancel, and the values GIMP remembers between runs and sessions.

GIMP runs as `gimp-3.0` (not gimp-console) on a virtual X server (Xvfb) inside the trixie root.
A python-fu batch script (batch/interactive.py) calls the procedure with RunMode.INTERACTIVE,
as the menu does, and this test acts as the user with xdotool: it presses Return in the settings
dialog and clicks Cancel in the progress window.

What GIMP 3.0.4 does with the remembered values (read from libgimp and checked here):
- INTERACTIVE and WITH_LAST_VALS runs start from the values saved by the last *successful
  INTERACTIVE* run (a file `plug-in-settings/GimpProcedureConfigRun-<procedure>.last` in the
  GIMP config dir, plus a parasite on the image); the arguments passed in are ignored.
- NONINTERACTIVE runs use their arguments and save nothing; a cancelled or failed run saves
  nothing either.
So a first non-interactive run cannot set the values the dialog shows. The test seeds the file
instead (GIMP's own format: what the dialog's "Save Settings" writes), and checks that the
dialog showed them, that GIMP rewrote the file after OK, and that a new GIMP session's
WITH_LAST_VALS run used them.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import gimp_root
import pytest
import screen
from impasto_gimp.settings import NO_STYLE
from PIL import Image

from hosts import host_missing
from impasto_protocol import Client
from virtual_display import DisplayError, virtual_display

if TYPE_CHECKING:
    from conftest import GimpHost

pytestmark = pytest.mark.gimp

SIZE = (64, 48)
GUI_TIMEOUT = 150  # seconds for the whole GUI session (start ~10 s, two runs)
WAIT = 60.0  # seconds to wait for a window or a job state
DIALOG = "Style Transfer"  # impasto_gimp.dialog.DIALOG_TITLE
PROGRESS = "Style Transfer: running"  # impasto_gimp.dialog.PROGRESS_TITLE
ADD_FILES = "Add style images"  # impasto_gimp.style_list.ADD_FILES_TITLE
LAST = "plug-in-settings/GimpProcedureConfigRun-plug-in-impasto-stylize.last"
SEED_HEADER = "# seeded by test_gimp_interactive"
IMAGE_WINDOW = r"\*?\[Untitled\]-1\.0 .* – GIMP"  # run 1's image window (loaded by a script)
MARKER = "painted before Start"  # batch/interactive.py's step before run 1
STRENGTH = 35.0  # of 0..100, not the default 50
OK_ITERATIONS = 6


def _seed(gimp: GimpHost, style: str, iterations: int, quality: str = "draft") -> Path:
    """Write GIMP's remembered values for the procedure, as a user's earlier run would have."""
    path = gimp.shared / "gimpcfg" / LAST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"{SEED_HEADER}\n\n"
        f'(style-file "file://{style}")\n'
        f"(strength {STRENGTH})\n"
        f'(quality "{quality}")\n'
        f"(iterations {iterations})\n"
        "(preview-every 2)\n"
        "(padding 0)\n\n"
        "# end of settings\n"
    )
    return path


class Desktop:
    """xdotool and a screenshot tool on the virtual X display, run inside the root."""

    def __init__(self, gimp: GimpHost, display: str, out: Path) -> None:
        self.gimp, self.display, self.out = gimp, display, out

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*self.gimp.env(f"DISPLAY={self.display}"), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed: {done.stderr.strip()}")
        return done

    def window(self, title: str, gimp: subprocess.Popen[str], timeout: float = WAIT) -> str:
        """The id of the visible window called exactly `title`, once it appears."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self._run(
                "xdotool", "search", "--onlyvisible", "--name", f"^{title}$", check=False
            )
            if found.returncode == 0 and found.stdout.split():
                return found.stdout.split()[0]
            if gimp.poll() is not None:
                raise AssertionError(f"GIMP exited ({gimp.returncode}) before {title!r} showed")
            time.sleep(0.2)
        self.screenshot(f"no-{title.replace(' ', '_').replace(':', '')}.png")
        raise AssertionError(
            f"no window {title!r} within {timeout:.0f} s (screenshot in {self.out})"
        )

    def gone(self, window: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._run("xdotool", "getwindowname", window, check=False).returncode != 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"window {window} still open after {timeout:.0f} s")

    def press(self, window: str, key: str) -> None:
        self._run("xdotool", "windowfocus", "--sync", window, "key", key)

    def type(self, window: str, text: str) -> None:
        self._run("xdotool", "windowfocus", "--sync", window, "type", "--delay", "20", text)

    def geometry(self, window: str) -> dict[str, int]:
        shell = self._run("xdotool", "getwindowgeometry", "--shell", window).stdout
        return {k: int(v) for k, v in (line.split("=", 1) for line in shell.split())}

    def click(self, window: str, x: int, y: int, button: int = 1, repeat: int = 1) -> None:
        """Click (or scroll: buttons 4 and 5) at `x`, `y` in `window`."""
        self._run(
            "xdotool", "mousemove", "--window", window, str(x), str(y),
            "click", "--repeat", str(repeat), "--delay", "60", str(button),
        )  # fmt: skip

    def park(self) -> None:
        """Move the pointer off every window (bottom right), so no tooltip covers anything."""
        self._run("xdotool", "mousemove", "1279", "1023")

    def capture(self, name: str) -> Image.Image:
        """A screenshot of the whole virtual screen, kept in the output folder."""
        path = self.out / name
        self._run("python3", "/shared/screenshot.py", self.gimp.inside(path))
        with Image.open(path) as shot:
            return shot.convert("RGB")

    def click_bottom(self, window: str, above: int) -> None:
        """Click the middle of `window`, `above` pixels from its bottom edge."""
        shell = self._run("xdotool", "getwindowgeometry", "--shell", window).stdout
        geometry = dict(line.split("=", 1) for line in shell.split())
        x, y = int(geometry["WIDTH"]) // 2, int(geometry["HEIGHT"]) - above
        self._run("xdotool", "mousemove", "--window", window, str(x), str(y), "click", "1")

    def screenshot(self, name: str) -> None:
        self._run(
            "python3", "/shared/screenshot.py", self.gimp.inside(self.out / name), check=False
        )


@pytest.fixture(scope="module")
def display(gimp: GimpHost) -> Iterator[str]:
    """A virtual X server (Xvfb) inside the root, on a display number it picks itself."""
    if not gimp_root.has_gui_tools(gimp.root):
        host_missing(f"no Xvfb/xdotool in {gimp.root} (run tests/gimp/gimp_root.py build as root)")
    try:
        with virtual_display(gimp.env(), "1280x1024", gimp.shared / "xvfb.log") as name:
            yield name
    except DisplayError as e:
        host_missing(str(e))


def _running_job(client: Client, timeout: float = WAIT) -> dict:
    """The summary of the GIMP job once it runs and has reported an iteration."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in client.status()["jobs"]:
            if job["state"] == "running" and str(job.get("label", "")).startswith("GIMP:"):
                if (job.get("iteration") or 0) >= 2:
                    return job
        time.sleep(0.2)
    raise AssertionError("the plug-in's job never ran")


def _job_end(client: Client, job: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = client.status(job)["job"]
        if summary["state"] not in ("queued", "running"):
            return summary
        time.sleep(0.2)
    raise AssertionError(f"job {job} did not end within {timeout:.0f} s")


def _wait_line(path: Path, words: str, gimp: subprocess.Popen[str], timeout: float = WAIT) -> str:
    """The first line of the log at `path` with `words` in it, once GIMP has written it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and gimp.poll() is None:
        found = [line for line in path.read_text().splitlines() if words in line]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no {words!r} in {path.name} (GIMP exit code {gimp.poll()})")


def _wait_file(path: Path, gimp: subprocess.Popen[str], timeout: float = WAIT) -> dict:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if gimp.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no {path.name} (GIMP exit code {gimp.poll()})")
        time.sleep(0.1)
    return json.loads(path.read_text())


SCREENSHOTS = Path(__file__).resolve().parents[2] / "plugins" / "gimp" / "screenshots"


def _dialog_picture(desktop: Desktop, dialog: str, name: str = "dialog.png") -> None:
    """The dialog as plugins/gimp/README.md shows it (as `name`), once its estimate line has
    come (IMPASTO_UPDATE_SCREENSHOTS=1 copies it there)."""
    time.sleep(2.0)  # the estimate is asked from a worker thread
    desktop.park()
    g = desktop.geometry(dialog)
    shot = desktop.capture(f"full-{name}")
    box = (g["X"], g["Y"], g["X"] + g["WIDTH"], g["Y"] + g["HEIGHT"])
    picture = shot.crop(box)
    assert picture.width > 200 and picture.height > 200, box
    # With a style image's picture in the list too, the dialog fits a 1366x768 screen.
    assert g["WIDTH"] <= SCREEN_LIMIT[0] and g["HEIGHT"] <= SCREEN_LIMIT[1], g
    picture.save(desktop.out / f"gimp_{name}")
    if os.environ.get("IMPASTO_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        picture.save(SCREENSHOTS / name)


def _progress_picture(desktop: Desktop, progress: str) -> None:
    """The progress window, centred on the 1280x1024 screen (not in its top left corner, over
    GIMP's menus), as plugins/gimp/README.md shows it (IMPASTO_UPDATE_SCREENSHOTS=1)."""
    time.sleep(2.0)  # the status line follows the job's events a moment later
    desktop.park()
    g = desktop.geometry(progress)
    centre = (g["X"] + g["WIDTH"] // 2, g["Y"] + g["HEIGHT"] // 2)
    assert abs(centre[0] - 640) <= 64 and abs(centre[1] - 512) <= 64, g
    shot = desktop.capture("progress.png")
    picture = shot.crop((g["X"], g["Y"], g["X"] + g["WIDTH"], g["Y"] + g["HEIGHT"]))
    if os.environ.get("IMPASTO_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        picture.save(SCREENSHOTS / "progress.png")


def test_dialog_cancel_ok_and_remembered_values(gimp: GimpHost, display: str, load_example) -> None:
    out = gimp.shared / "out" / "interactive"
    out.mkdir(parents=True)
    load_example("astronaut").resize(SIZE, Image.Resampling.LANCZOS).save(out / "content.png")
    load_example("hubble", 48).save(out / "style.png")
    load_example("brick", 40).save(out / "style2.png")  # added in run 3's dialog
    params = {
        "out": gimp.inside(out),
        "content": gimp.inside(out / "content.png"),
        "plugin_dir": "/shared/gimpcfg/plug-ins/impasto-stylize",
        "wait": WAIT,
    }
    (gimp.shared / "interactive.json").write_text(json.dumps(params))
    style = gimp.inside(out / "style.png")
    last = _seed(gimp, style, iterations=100000)  # run 1 must still run when Cancel is clicked
    desktop = Desktop(gimp, display, out)
    client = Client(gimp.endpoint, timeout=5.0)
    with open(out / "gimp.log", "w") as log:
        proc = subprocess.Popen(
            gimp.gui_command("interactive.py", display, GUI_TIMEOUT, "IMPASTO_GIMP_DEBUG=1"),
            stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        # Run 1: the dialog shows the remembered values; Return is OK.
        dialog = desktop.window(DIALOG, proc, timeout=90)
        desktop.screenshot("dialog.png")
        desktop.press(dialog, "Return")
        # The progress window is up while the job runs; its Cancel stops the job gracefully.
        progress = desktop.window(PROGRESS, proc)
        job = _running_job(client)
        _progress_picture(desktop, progress)
        desktop.click_bottom(progress, above=24)  # the Cancel button fills the bottom row
        summary = _job_end(client, job["job"])
        assert (summary["state"], summary.get("reason")) == ("cancelled", "client"), summary
        run1 = _wait_file(out / "run1.json", proc)
        desktop.gone(progress)
        assert run1["status"] == "cancel", run1
        # The unfinished layer was removed; the user's own step before Start is still there,
        # and the layer the filter ran on is still the one selected.
        assert run1["layers"] == [MARKER, "Background"], run1
        assert run1["selected"] == ["Background"], run1
        assert run1["undo_enabled"], run1
        # The cancelled run left one undo step that changes nothing (its preview layer was
        # born inside it, so that a run GIMP kills is one step too: test_gimp_undo_after_kill):
        # the first Ctrl+Z leaves the layers as they are, the second undoes the user's step.
        image_window = desktop.window(IMAGE_WINDOW, proc)
        desktop.press(image_window, "ctrl+z")
        (out / "undone").touch()
        undone = _wait_file(out / "run1_undo.json", proc)
        assert undone["layers_after_undo"] == [MARKER, "Background"], undone
        desktop.press(image_window, "ctrl+z")
        (out / "undone2").touch()
        undone = _wait_file(out / "run1_undo2.json", proc)
        assert undone["layers_after_second_undo"] == ["Background"], undone
        assert SEED_HEADER in last.read_text(), "a cancelled run must not save its values"

        # Run 2: short values; OK runs the job to its end with them, and GIMP saves them.
        _seed(gimp, style, iterations=OK_ITERATIONS, quality="automatic")
        (out / "go2").touch()
        dialog = desktop.window(DIALOG, proc)
        _dialog_picture(desktop, dialog)
        desktop.press(dialog, "Return")
        desktop.gone(dialog)

        # Run 3: a second style image added to the list with its file chooser, then a layer
        # from its list; Reset > Reset to Factory Defaults empties the list; then Cancel.
        (out / "go3").touch()
        dialog = desktop.window(DIALOG, proc)
        time.sleep(1.0)
        desktop.press(dialog, "alt+i")  # Add _images...
        chooser = desktop.window(ADD_FILES, proc)
        desktop.press(chooser, "ctrl+l")
        desktop.type(chooser, gimp.inside(out / "style2.png"))
        time.sleep(0.5)
        desktop.screenshot("chooser.png")
        desktop.press(chooser, "Return")
        desktop.gone(chooser)
        desktop.press(dialog, "alt+y")  # "or a la_yer:" focuses the layers' list
        desktop.press(dialog, "Down")  # its first layer: the open image's
        time.sleep(0.5)
        desktop.screenshot("three-styles.png")
        desktop.press(dialog, "alt+r")  # the Reset button's menu
        time.sleep(0.5)
        desktop.screenshot("reset-menu.png")
        desktop.press(dialog, "Tab")  # from "Reset to Initial Values" to the next button
        desktop.press(dialog, "Return")  # Reset to Factory Defaults
        time.sleep(0.5)
        desktop.screenshot("factory-defaults.png")
        # Help opens the plug-in's own page (in the root no browser can show it: the
        # plug-in then says where the page is), not GIMP's manual.
        desktop.press(dialog, "alt+h")
        helped = _wait_line(out / "gimp.log", "help: opening ", proc)
        page = "/shared/gimpcfg/plug-ins/impasto-stylize/impasto_gimp/help.html"
        assert helped.endswith(f"file://{page}#style-transfer"), helped
        assert (gimp.shared / page.removeprefix("/shared/")).exists()
        # OK without any style: refused in the dialog, which stays open and says why.
        desktop.press(dialog, "alt+o")
        _wait_line(out / "gimp.log", "OK refused: ", proc)
        desktop.screenshot("ok-refused.png")
        assert desktop.window(DIALOG, proc, timeout=5) == dialog
        desktop.press(dialog, "Escape")
        assert proc.wait(GUI_TIMEOUT) == 0, (out / "gimp.log").read_text()[-3000:]
        # GimpUi checks the dialog's mnemonics when it opens and names each clash.
        assert "mnemonic" not in (out / "gimp.log").read_text()
    finally:
        client.close()
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(10)
    ev = json.loads((out / "evidence.json").read_text())

    # The dialog said what OK would do: the 64x48 layer at its own size (Draft's 256 px is
    # more), and how long it would take.
    lines = (out / "gimp.log").read_text().splitlines()
    # The chosen style image is in the list with its picture (a small one at its own size).
    with Image.open(out / "style.png") as im, Image.open(out / "style2.png") as im2:
        one = f"style.png {im.width}x{im.height}"
        two = f"style2.png {im2.width}x{im2.height}"
    listed = [line.split("style list: ", 1)[1] for line in lines if "style list: " in line]
    assert f"['{one}']" in listed, listed
    said = [line for line in lines if "estimate: " in line]
    # Run 1 (Draft, 100000 iterations): hours, from the iterations the daemon timed at load.
    assert re.search(r"estimate: Draft: 64x48 px, about (\d+ h )?\d+ min here$", said[0]), said
    # Run 2's dialog (Automatic) said which preset and size OK would run; the job ran those.
    run2_line = said[-1].split("estimate: ", 1)[1]
    # (How long it says depends on the daemon's measured speed on a busy machine: any time.)
    found = re.fullmatch(r"(Automatic: \w+): (\d+)x(\d+) px, about [\w ]+ here", run2_line)
    assert found, said
    ran = [line.split("quality: ", 1)[1] for line in lines if "quality: " in line]
    assert ran[-1] == found[1], ran  # the run resolved Automatic as the dialog had
    scales = ev["run2"]["details"]["scales"]
    assert scales[-1][:2] == [int(found[2]), int(found[3])], scales

    # The strength shows as a whole number, as Krita's does.
    assert any(line.endswith("strength shown with 0 decimals") for line in lines), lines

    # The dialog lays out every argument of the procedure, once.
    laid_out = ev["dialog"]["laid_out"]
    assert sorted(laid_out) == sorted(ev["dialog"]["arguments"]) and len(set(laid_out)) == len(
        laid_out
    ), ev["dialog"]

    # Run 3: cancelled in the dialog.
    assert ev["run3"]["status"] == "cancel", ev["run3"]
    # Run 3: the added file joined the list (and the arguments); the reset emptied it.
    both = listed.index(f"['{one}', '{two}']")
    layer = f"layer Background {SIZE[0]}x{SIZE[1]}"
    all_three = listed.index(f"['{one}', '{two}', '{layer}']")
    assert both < all_three and set(listed[all_three + 1 :]) == {"[]"}, listed
    # Run 3's "Add a layer..." list told apart the two layers called Background (one in each
    # of two images of one name): the image as its title bar names it, the size, the place.
    offered = [line.split("layers to add: ", 1)[1] for line in lines if "layers to add: " in line]
    titles = ast.literal_eval(offered[-1])
    assert len(titles) == 2 and len(set(titles)) == 2, titles
    assert all(re.fullmatch(r".+-\d+: Background, 64x48, 1st of 1 from the top", t) for t in titles)
    # ... and OK then was refused with a message, the dialog left open, the choices kept.
    refused = [line.split("OK refused: ", 1)[1] for line in lines if "OK refused: " in line]
    assert refused == [NO_STYLE], refused
    assert [line for line in lines if "no-style line: " in line][-1].endswith("shown")

    run2 = ev["run2"]
    assert run2["status"] == "success", run2
    details = run2["details"]
    assert details["iterations"] == OK_ITERATIONS, details  # the remembered values were used
    assert run2["previews"] >= 1 and details["previews"] == run2["previews"]
    name = "Style transfer of Background"
    assert run2["result_name"] == name and run2["layers"] == [name, "Background"], run2
    saved = last.read_text()
    assert SEED_HEADER not in saved and f"(iterations {OK_ITERATIONS})" in saved, saved
    # Filters > Repeat (WITH_LAST_VALS) ran with run 2's values, and showed the progress
    # window with its Cancel, as every run from the menus does (runs 1 and 2 and this one).
    repeat = ev["repeat"]
    assert repeat["status"] == "success", repeat
    assert repeat["details"]["iterations"] == OK_ITERATIONS, repeat
    windows = [line for line in lines if "progress window: " in line]
    assert len(windows) == 3 and all(line.endswith(PROGRESS) for line in windows), windows

    # A new GIMP session: WITH_LAST_VALS ignores its arguments and uses the saved values.
    done = subprocess.run(gimp.command("last_values.py"), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    again = json.loads((out / "last_values.json").read_text())
    assert again["status"] == "success", again
    assert again["details"]["iterations"] == OK_ITERATIONS, again
    assert again["details"]["settings"]["style_weight"] == pytest.approx(
        details["settings"]["style_weight"]
    )


PALETTE_ON = 2  # the remembered mix turns this swatch on
PALETTE_CLICK = 5  # the test clicks this one (first row: visible without scrolling)
TRAINED = "hubble"  # conftest's trained style in the daemon's library
# A 1366x768 laptop screen, less a title bar and a panel (about 70 px): the dialog must fit.
SCREEN_LIMIT = (1366, 700)


def _swatches_on_screen(
    desktop: Desktop, dialog: str, swatches: list[Image.Image], found: dict[int, screen.Match]
) -> None:
    """Add to `found` (index: position in the dialog) the swatches the dialog shows now."""
    g = desktop.geometry(dialog)
    desktop.park()
    time.sleep(0.2)  # a tooltip fades out
    shot = desktop.capture(f"palette-{len(found):02d}.png")
    crop = shot.crop((g["X"], g["Y"], g["X"] + g["WIDTH"], g["Y"] + g["HEIGHT"]))
    for index, match in enumerate(screen.locate(crop, swatches)):
        if match.mse < screen.MATCH_MSE and index not in found:
            found[index] = match


def test_palette_shows_the_daemons_swatches(gimp: GimpHost, display: str, load_example) -> None:
    """The dialog's palette shows the daemon's 26 swatches (found on the screen, scrolling
    through them), turns on the remembered ones, and a click adds a style to the mix that the
    job then runs (Instant mode, no style image). A click on the trained style's toggle after
    the swatches (conftest's `hubble`) adds it too: the daemon paints with it."""
    out = gimp.shared / "out" / "palette"
    out.mkdir(parents=True)
    load_example("astronaut").resize(SIZE, Image.Resampling.LANCZOS).save(out / "content.png")
    params = {"out": gimp.inside(out), "content": gimp.inside(out / "content.png")}
    (gimp.shared / "palette.json").write_text(json.dumps(params))
    last = gimp.shared / "gimpcfg" / LAST
    last.parent.mkdir(parents=True, exist_ok=True)
    last.write_text(
        f'{SEED_HEADER}\n\n(mode "instant")\n(presets "{PALETTE_ON}:1")\n(preview-every 0)\n'
    )
    with Client(gimp.endpoint, timeout=10.0) as client:
        presets, trained = client.palette()
    swatches = [screen.half(p.to_pil()) for p in presets]
    assert len(swatches) == 26
    assert [t.name for t in trained] == [TRAINED], trained
    trained_swatch = screen.half(trained[0].swatch.to_pil())
    desktop = Desktop(gimp, display, out)
    with open(out / "gimp.log", "w") as log:
        proc = subprocess.Popen(
            gimp.gui_command("palette.py", display, GUI_TIMEOUT, "IMPASTO_GIMP_DEBUG=1"),
            stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        dialog = desktop.window(DIALOG, proc, timeout=90)
        found: dict[int, screen.Match] = {}
        deadline = time.monotonic() + WAIT
        while not found and time.monotonic() < deadline:  # the swatches arrive from a thread
            time.sleep(0.5)
            _swatches_on_screen(desktop, dialog, swatches, found)
        assert found, f"no swatch on the screen (screenshots in {out})"
        geometry = desktop.geometry(dialog)
        assert geometry["WIDTH"] <= SCREEN_LIMIT[0] and geometry["HEIGHT"] <= SCREEN_LIMIT[1], (
            geometry
        )
        assert PALETTE_CLICK in found, sorted(found)
        size = swatches[0].size
        desktop.click(dialog, *found[PALETTE_CLICK].centre(size))
        # Scroll through the palette (mouse wheel over it) until every swatch was seen.
        wheel_at = found[PALETTE_CLICK].centre(size)
        for _ in range(12):
            if len(found) == len(swatches):
                break
            desktop.click(dialog, *wheel_at, button=5, repeat=3)
            time.sleep(0.3)
            _swatches_on_screen(desktop, dialog, swatches, found)
        assert sorted(found) == list(range(len(swatches))), (
            f"swatches never shown: {sorted(set(range(26)) - set(found))} (screenshots in {out})"
        )
        # The trained style's toggle follows the last swatches, in their row or below it:
        # scroll to the end (the palette stops there), then click its picture.
        desktop.click(dialog, *wheel_at, button=5, repeat=6)
        time.sleep(0.3)
        desktop.park()
        time.sleep(0.2)
        g = desktop.geometry(dialog)
        shot = desktop.capture("palette-trained.png")
        crop = shot.crop((g["X"], g["Y"], g["X"] + g["WIDTH"], g["Y"] + g["HEIGHT"]))
        (toggle,) = screen.locate(crop, [trained_swatch])
        assert toggle.mse < screen.MATCH_MSE, f"no {TRAINED!r} toggle on the screen: {toggle}"
        desktop.click(dialog, *toggle.centre(trained_swatch.size))
        time.sleep(0.3)
        desktop.screenshot("palette-trained-on.png")
        # Advanced opened (its _Advanced): beside the palette, the dialog grows wider, and
        # still fits a 1366x768 screen.
        desktop.press(dialog, "alt+a")
        time.sleep(0.5)
        desktop.screenshot("advanced-open.png")
        opened = desktop.geometry(dialog)
        assert opened["WIDTH"] > geometry["WIDTH"], (opened, geometry)  # it did open
        assert opened["WIDTH"] <= SCREEN_LIMIT[0] and opened["HEIGHT"] <= SCREEN_LIMIT[1], opened
        desktop.press(dialog, "alt+o")  # the dialog's _OK
        assert proc.wait(GUI_TIMEOUT) == 0, (out / "gimp.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(10)
    gimp_log = (out / "gimp.log").read_text()
    # The daemon's trained style (conftest's `hubble`) has a toggle after the swatches.
    assert "palette: 26 swatches shown, trained styles ['hubble']" in gimp_log, gimp_log[-3000:]
    # No style image, but built-in styles chosen: the list never said "No style yet".
    said = re.findall(r"no-style line: (\w+)", gimp_log)
    assert said and set(said) == {"hidden"}, said
    assert "mnemonic" not in gimp_log
    ev = json.loads((out / "palette.json").read_text())
    assert ev["status"] == "success", ev
    details = ev["details"]
    settings = details["settings"]
    assert settings["method"] == "fast", settings
    assert settings["presets"] == [PALETTE_ON, PALETTE_CLICK], settings
    # The settings the daemon ran with name the trained style, and `weights`, its account of
    # the networks that painted, shows that the job really used it.
    assert settings["trained"] == [TRAINED], settings
    assert f"trained style {TRAINED} (fast)" in details["weights"], details["weights"]
    name = "Style transfer of Background"
    assert ev["layers"] == [name, "Background"], ev
    with Client(gimp.endpoint, timeout=5.0) as client:
        assert client.status(details["job"])["job"]["state"] == "done"
    saved = last.read_text()
    assert f'(presets "{PALETTE_ON}:1,{PALETTE_CLICK}:1")' in saved, saved
    assert f'(trained "{TRAINED}")' in saved, saved


TRAIN_DIALOG = "Train Instant Style"  # impasto_gimp.dialog.TRAINING_TITLE
TRAIN_PROGRESS = "Train Instant Style: training"  # impasto_gimp.dialog.TRAINING_PROGRESS_TITLE
TRAIN_LAST = "plug-in-settings/GimpProcedureConfigRun-plug-in-impasto-train-style.last"


def test_train_dialog_ok_then_cancel_keeps_the_checkpoint(
    gimp: GimpHost, display: str, load_example
) -> None:
    """Filters > Artistic > Train Instant Style as a user runs it: the dialog with the values
    remembered from an earlier run, OK, the progress window while the daemon trains, and its
    Cancel: the daemon stops the training and keeps its checkpoint for the next run."""
    out = gimp.shared / "out" / "train_dialog"
    out.mkdir(parents=True)
    load_example("hubble", 64).save(out / "style.png")
    (gimp.shared / "train_dialog.json").write_text(json.dumps({"out": gimp.inside(out)}))
    last = gimp.shared / "gimpcfg" / TRAIN_LAST
    last.parent.mkdir(parents=True, exist_ok=True)
    name = "dialog style"
    last.write_text(
        f'{SEED_HEADER}\n\n(style-file "file://{gimp.inside(out / "style.png")}")\n'
        f'(name "{name}")\n(steps 100000)\n\n# end of settings\n'
    )
    library = gimp.shared / "styles"
    desktop = Desktop(gimp, display, out)
    with open(out / "gimp.log", "w") as log:
        proc = subprocess.Popen(
            gimp.gui_command("train_dialog.py", display, GUI_TIMEOUT, "IMPASTO_GIMP_DEBUG=1"),
            stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        dialog = desktop.window(TRAIN_DIALOG, proc, timeout=90)
        desktop.screenshot("train-dialog.png")
        desktop.press(dialog, "alt+o")  # the dialog's _OK
        progress = desktop.window(TRAIN_PROGRESS, proc)
        with Client(gimp.endpoint, timeout=10.0) as client:
            deadline = time.monotonic() + WAIT
            job: dict = {}
            while time.monotonic() < deadline and (job.get("iteration") or 0) < 2:
                jobs = [j for j in client.status()["jobs"] if j.get("name") == name]
                job = jobs[0] if jobs else {}
                time.sleep(0.2)
            assert (job.get("kind"), job.get("state")) == ("train", "running"), job
            assert job["label"] == f"GIMP: train {name}" and not job["detach"], job
            desktop.screenshot("train-progress.png")
            desktop.press(progress, "alt+c")  # the progress window's _Cancel
            ended = _job_end(client, job["job"])
        ev = _wait_file(out / "train_dialog.json", proc)
        # The user opens the dialog again to go on: Escape closes it.
        desktop.press(desktop.window(TRAIN_DIALOG, proc), "Escape")
        assert _wait_file(out / "again.json", proc) == {"status": "cancel"}
        assert proc.wait(GUI_TIMEOUT) == 0, (out / "gimp.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(10)
        checkpoint = library / f"{name}.style.checkpoint"
        kept = checkpoint.exists()
        checkpoint.unlink(missing_ok=True)  # the session's other tests expect conftest's library
    assert ev == {"status": "cancel"}, ev
    assert (ended["state"], ended["reason"]) == ("cancelled", "client"), ended
    assert kept and not (library / f"{name}.style").exists()
    gimp_log = (out / "gimp.log").read_text()
    assert "mnemonic" not in gimp_log, gimp_log[-3000:]
    # The style layer's chooser is the plug-in's, whose window says what it is for (GimpUi's
    # generated one's says "Choose drawable").
    assert "style layer chooser: Choose the layer to train" in gimp_log, gimp_log[-3000:]
    # The user was told what became of the training (GIMP shows nothing for a cancel).
    told = re.search(
        rf"training cancelled: The training of '{name}' was cancelled at step (\d+), which is "
        "kept: Train Instant Style again with the same style, name and steps goes on from there",
        gimp_log,
    )
    assert told and int(told[1]) >= 1, gimp_log[-3000:]
    # ... and the next dialog opens with the style image again: the values OK was pressed with
    # are where GIMP keeps the last ones (GIMP itself saves them only after a success).
    remembered = last.read_text()
    assert SEED_HEADER not in remembered, remembered
    assert gimp.inside(out / "style.png") in remembered and name in remembered, remembered
    opened = [line for line in gimp_log.splitlines() if "training dialog opens with: " in line]
    style_uri = f"file://{gimp.inside(out / 'style.png')}"
    assert len(opened) == 2 and opened[1].endswith(f"{style_uri}, '{name}'"), opened
