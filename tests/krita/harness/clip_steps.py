"""Steps run inside Krita by the impasto_script harness for tests/krita/test_krita_clip.py: with
the installed docker (its daemon the test's), they make a 64x48 image whose layer `source` has
keyframes at 0, 2 and 5 (the current time 3, in the hold of 2), tick the docker's "Whole
animation" option and click Start with the Instant mode and built-in style 3 at the image's
own size (the frames come back unscaled), as a user would; then once more, clicking Cancel
while the clip runs. They return what they saw (the new layer's keyframes looked at each time
a frame goes into it while the clip runs, the settings the clip was sent with); the pixels go
to files in `out`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QToolButton,
)

from krita import Krita

sys.path.insert(0, str(Path(__file__).resolve().parent))
from animation_steps import H, W, keys, make_image, names, undo_history

KEYS = (0, 2, 5)
OUT: list[Path] = []  # the folder for pictures, once steps() runs
WAIT_S = 90  # for the daemon, the option, a clip


def until(check, what: str):
    """Hand the loop back until `check()` holds; RuntimeError after WAIT_S."""
    end = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        yield 100


def set_up_docker(docker):
    """Instant, built-in style 3 alone, a small size; the option ticked once it applies."""
    palette = docker.findChild(QListWidget, "palette")
    yield from until(lambda: palette.count() > 0, "the built-in styles")
    table = docker.findChild(QTableWidget, "style_list")
    for row in reversed(range(table.rowCount())):
        table.selectRow(row)
        docker.findChild(QPushButton, "remove_style").click()
    combo = docker.findChild(QComboBox, "mode")
    combo.setCurrentIndex(combo.findText("Instant"))
    toggle = docker.findChild(QToolButton, "palette_toggle")
    if not toggle.isChecked():
        toggle.click()
    palette.item(3).setSelected(True)
    docker.findChild(QSpinBox, "setting_size").setValue(W)  # the image's size: no scaling
    option = docker.findChild(QCheckBox, "whole_animation")
    yield from until(option.isEnabled, "the Whole animation option")
    seen = {"text": option.text(), "tooltip": option.toolTip(), "checked": option.isChecked()}
    option.setChecked(True)
    estimate = docker.findChild(QLabel, "estimate")
    # (the line follows the mode within ESTIMATE_POLL_MS: Instant's pass has no time)
    wanted = "whole animation: 3 frames, each in one quick pass"
    yield from until(lambda: wanted in estimate.text(), "the animation's estimate")
    seen["estimate"] = estimate.text()
    yield 300  # (the line laid out) the picture README.md shows
    docker.grab().save(str(OUT[0] / "docker_animation.png"))
    return seen


def filled(doc) -> list[int]:
    """The keyframes of the layer above `source` that hold a picture (not transparent)."""
    layers = doc.rootNode().childNodes()
    if len(layers) < 3:
        return []
    layer = layers[2]
    return [t for t in KEYS if any(bytes(layer.pixelDataAtTime(0, 0, W, H, t))[3::4])]


def run_clip(docker, doc, cancel: bool):
    """Click Start (and Cancel the moment the clip runs: its frames sent); the outcome, the
    lines shown, and at each frame written while it runs: its time, the clip's state, the
    image's time and which keyframes of the new layer hold a picture then."""
    model, start = docker.animation.model, docker.findChild(QPushButton, "start")
    ended: list[str] = []
    lines: list[str] = []
    shown: list[dict] = []
    model.finished.connect(ended.append)
    model.frame_shown.connect(
        lambda t: shown.append(
            {"time": t, "state": model.state.value, "now": doc.currentTime(), "filled": filled(doc)}
        )
    )
    model.progress.connect(lambda *_: lines.append(docker.footer.phase.text()))
    if not cancel:  # the footer at the first frame back, for README.md
        shot = OUT[0] / "docker_animation_running.png"
        model.progress.connect(lambda *_: shot.exists() or docker.grab().save(str(shot)))
    if cancel:
        button = docker.findChild(QPushButton, "cancel")
        model.state_changed.connect(lambda state: state == "running" and button.click())
    start.click()
    yield from until(lambda: ended, "the clip's end")
    yield 500
    seen = {"outcome": ended[-1], "lines": lines, "message": docker.footer.message.text()}
    return {**seen, "shown": shown}


def mark(step: str) -> None:
    """A line in Krita's log, to tell which step Krita was at if it aborts."""
    print(f"clip_steps: {step}", flush=True)


def steps(out: Path):
    OUT.append(out)
    k = Krita.instance()
    window = k.activeWindow().qwindow()  # the size the README's other pictures were taken at
    window.move(0, 0)
    window.resize(1280, 1000)
    k.action("impasto_show_style_transfer").trigger()
    docker = next(d for d in k.dockers() if d.objectName() == "impasto_style_transfer")
    mark("make the image")
    doc, source = yield from make_image(out, KEYS)
    mark("image made")
    doc.setActiveNode(source)
    yield 300
    option = yield from set_up_docker(docker)
    result = {"option": option, "names_before": names(doc)}
    mark("start the clip")
    history = undo_history()
    result["done"] = yield from run_clip(docker, doc, cancel=False)
    mark("clip ended")
    sent = docker.animation.model.clip.request
    result["sent"] = {"settings": sent.settings, "temporal": sent.temporal}
    result["undo_added"] = undo_history()[len(history) :]
    result["time_after"] = doc.currentTime()
    result["active_after"] = doc.activeNode().name()
    result["names_after"] = names(doc)
    new = doc.nodeByName(result["names_after"][-1]) if len(names(doc)) > 2 else None
    result["new_keys"] = keys(new) if new is not None else []
    result["source_keys"] = keys(source)
    result["undo_last"] = undo_history()[-1:]
    for t in KEYS:
        (out / f"source_{t}.bin").write_bytes(bytes(source.pixelDataAtTime(0, 0, W, H, t)))
        if new is not None:
            (out / f"new_{t}.bin").write_bytes(bytes(new.pixelDataAtTime(0, 0, W, H, t)))
    mark("undo")
    k.action("edit_undo").trigger()
    yield 500
    result["names_undone"] = names(doc)
    doc.setActiveNode(source)
    yield 300
    mark("start the clip to cancel")
    result["cancel"] = yield from run_clip(docker, doc, cancel=True)
    mark("cancelled")
    result["names_cancelled"] = names(doc)
    return result
