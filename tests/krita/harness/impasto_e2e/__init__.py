"""A Krita start-up plug-in that drives the Impasto docker as a user would, for the e2e tests.

It reads the scenario named by $IMPASTO_E2E_SCENARIO (JSON, written by tests/krita), opens the
image, selects a rectangle, opens the docker through its menu action, waits for the daemon,
fills in the docker's widgets (the style, and as a run or the scenario says, the mode choice
`mode_choice` and the palette's built-in styles `presets`, or no style image: `no_style`) and
clicks Start (and Cancel, closes the panel or the document, or moves the strength slider, as
the scenario's `mode` says); `palette` waits for the daemon's swatches first. A scenario with
`runs` does that once per run, each on a fresh copy of the image in its own colour model. It
records what the document looked like at each `preview_applied` and at the end into files under
the scenario's `out` folder, and exits with os._exit: 0 when the scenario ran to its end (the
pytest side judges the evidence), 2 on an exception, 3 on timeout. Krita shows a "Script error"
dialog and keeps running on an uncaught exception, so everything here is wrapped, and the
plug-in's own uncaught exceptions are recorded (`script_errors`) for the tests to check.
"""

from __future__ import annotations

import faulthandler
import hashlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

from impasto_krita.qt import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    Qt,
    QTableWidget,
    QTimer,
    QToolButton,
    QWidget,
)
from PyQt5.QtCore import QPoint, QPointF
from PyQt5.QtGui import QWheelEvent

from krita import Extension, Krita, Selection

SCENARIO = json.loads(Path(os.environ["IMPASTO_E2E_SCENARIO"]).read_text())
OUT = Path(SCENARIO["out"])
RUNS = SCENARIO.get("runs") or [{"convert": SCENARIO.get("convert")}]
EVIDENCE: dict = {"events": [], "python": sys.version, "script_errors": [], "runs": []}
STATE: dict = {"run": 0, "t0": time.monotonic(), "last_tick": None, "max_stall": 0.0}
MODE = SCENARIO.get("mode", "complete")


def opt(name: str, default=None):
    """A setting of the current run, else of the scenario (e.g. `mode_choice`, `presets`)."""
    return RUNS[STATE["run"]].get(name, SCENARIO.get(name, default))


def ev() -> dict:
    """The current run's evidence (the top level when the scenario has a single run)."""
    return EVIDENCE if len(RUNS) == 1 else EVIDENCE["runs"][STATE["run"]]


def prefix() -> str:
    return "" if len(RUNS) == 1 else f"{STATE['run']}_"


def note(what: str, **fields) -> None:
    t = round(time.monotonic() - STATE["t0"], 3)
    EVIDENCE["events"].append({"t": t, "what": what, **fields})


def label(name: str) -> str:
    return STATE["docker"].findChild(QLabel, name).text()


def undo_history() -> list[str] | None:
    """The active image's undo steps up to the current one, as Krita's Undo History docker
    lists them (its first row is "<empty>"); None if that docker's view is not there."""
    for w in QApplication.instance().allWidgets():
        if w.metaObject().className() == "KisUndoView":
            model, current = w.model(), w.currentIndex().row()
            return [str(model.index(i, 0).data()) for i in range(1, current + 1)]
    return None


def active_layer() -> str:
    node = STATE["doc"].activeNode()
    return node.name() if node is not None else ""


def focus_holder() -> dict:
    """Which widget Krita's window gives the keys to (Xvfb has no active window: its focus
    widget, which has them once the window is active), and whether it is a number box."""
    w = Krita.instance().activeWindow().qwindow().focusWidget()
    if w is None:
        return {"class": None, "name": "", "number_box": False, "in_docker": False}
    parent = w.parentWidget()
    return {
        "class": w.metaObject().className(),
        "name": w.objectName() or (parent.objectName() if parent is not None else ""),
        "number_box": isinstance(w, QAbstractSpinBox) or isinstance(parent, QAbstractSpinBox),
        "in_docker": STATE["docker"].isAncestorOf(w),
    }


def click_focused(button) -> None:
    """A click as the mouse makes it: the button takes the focus, then clicks."""
    button.setFocus()
    button.click()


def wheel(widget) -> None:
    """One notch of the wheel over `widget` (down, or up at the last item or the maximum:
    whichever would change it), as the painter scrolling the panel gives it."""
    at = QPointF(widget.width() / 2, widget.height() / 2)
    last = widget.count() - 1 if isinstance(widget, QComboBox) else widget.maximum()
    now = widget.currentIndex() if isinstance(widget, QComboBox) else widget.value()
    delta = QPoint(0, 120 if now == last else -120)
    event = QWheelEvent(
        at, QPointF(widget.mapToGlobal(at.toPoint())), QPoint(0, 0), delta,
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
        False,
    )  # fmt: skip
    QApplication.sendEvent(widget, event)


def wheel_over_settings(docker) -> dict:
    """The wheel over the unfocused Quality and Mode boxes, the iterations, the strength: each
    keeps its value. And every combo box, spin box and slider of the docker takes the focus
    by click or Tab only (StrongFocus), not by the wheel."""
    read = {QComboBox: lambda w: w.currentIndex(), QSpinBox: lambda w: w.value()}
    read[QSlider] = read[QSpinBox]
    seen = {}
    for kind, name in ((QComboBox, "preset"), (QComboBox, "mode"), (QSpinBox, "setting_iterations"),
                       (QSlider, "strength")):  # fmt: skip
        widget = docker.findChild(kind, name)
        before = read[kind](widget)
        wheel(widget)
        seen[name] = {"before": before, "after": read[kind](widget), "focus": widget.hasFocus(),
                      "enabled": widget.isEnabled()}  # fmt: skip
    strong = Qt.FocusPolicy.StrongFocus
    wheeled = docker.findChildren((QComboBox, QAbstractSpinBox, QSlider))
    seen["not_strong"] = [w.objectName() for w in wheeled if w.focusPolicy() != strong]
    seen["count"] = len(wheeled)
    return seen


def fully_shown(widget, window) -> dict:
    """Where a widget is, and whether all of it can be seen in the docker and the window."""
    docker = STATE["docker"]
    top_left = widget.mapTo(window, widget.rect().topLeft())
    in_window = window.rect().contains(widget.rect().translated(top_left))
    in_docker = docker.rect().contains(
        widget.rect().translated(widget.mapTo(docker, widget.rect().topLeft()))
    )
    seen = widget.visibleRegion().boundingRect().size()
    return {
        "visible": widget.isVisible(),
        "in_window": bool(in_window),
        "in_docker": bool(in_docker),
        "unclipped": seen == widget.size(),
        "rect": [top_left.x(), top_left.y(), widget.width(), widget.height()],
    }


def shoot(name: str) -> None:
    STATE["docker"].grab().save(str(OUT / f"{name}.png"))


def finish(code: int) -> None:
    try:
        docker = STATE.get("docker")
        if docker is not None:
            EVIDENCE["daemon_state"] = label("daemon_state")
            EVIDENCE["message"] = label("message")
            EVIDENCE["strength_word_at_end"] = label("strength_word")
            EVIDENCE["jobs"] = list(docker.model.jobs_seen)
            proc = docker.link.process
            EVIDENCE["daemon_pid"] = proc.pid if proc is not None else None
        EVIDENCE["max_stall_ms"] = round(STATE["max_stall"] * 1000)
        EVIDENCE["max_stall_ended_at"] = STATE.get("max_stall_at")  # s after start, for `events`
        (OUT / "evidence.json").write_text(json.dumps(EVIDENCE, indent=1, default=str))
    finally:
        sys.stdout.flush()
        os._exit(code)


def guarded(fn):
    def run(*args):
        try:
            fn(*args)
        except Exception:
            EVIDENCE["error"] = traceback.format_exc()
            finish(2)

    return run


def record_script_errors() -> None:
    """Whatever reaches sys.excepthook is what Krita shows as a "Script error" dialog."""
    original = sys.excepthook

    def hook(kind, value, tb):
        EVIDENCE["script_errors"].append("".join(traceback.format_exception(kind, value, tb)))
        original(kind, value, tb)

    sys.excepthook = hook


def watch_the_ui() -> None:
    """A 20 ms timer: the longest gap between its ticks (once start() has returned) is how
    long the UI froze."""

    def tick() -> None:
        now = time.monotonic()
        if STATE["last_tick"] is not None:
            if now - STATE["last_tick"] > STATE["max_stall"]:
                STATE["max_stall"] = now - STATE["last_tick"]
                STATE["max_stall_at"] = round(now - STATE["t0"], 3)
        STATE["last_tick"] = now

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(tick)
    timer.start()
    STATE["ui_timer"] = timer


def dump(name: str, data: bytes) -> str:
    (OUT / (prefix() + name)).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def whole(node_or_doc) -> bytes:
    doc = STATE["doc"]
    return bytes(node_or_doc.pixelData(0, 0, doc.width(), doc.height()))


def result_layer():
    names = STATE["names_before"]
    for node in STATE["doc"].rootNode().childNodes():
        if node.name() not in names:
            return node
    return None


@guarded
def start() -> None:
    STATE["t0"] = time.monotonic()
    # A hang inside Krita blocks the event loop and the timeout below with it: a watchdog
    # thread writes every thread's Python stack just before, for the test's failure message.
    STATE["stacks"] = open(OUT / "stacks.txt", "w")
    faulthandler.dump_traceback_later(SCENARIO["timeout"] + 5, file=STATE["stacks"])
    watch_the_ui()
    Krita.instance().setBatchmode(True)
    if not MODE.startswith("remember"):
        open_run()
    k = Krita.instance()
    if SCENARIO.get("geometry"):  # a laptop's screen, before the panel is opened
        window = k.activeWindow().qwindow()
        window.move(0, 0)
        window.resize(*SCENARIO["geometry"])
    k.action("impasto_show_style_transfer").trigger()  # the plug-in's menu action
    docker = next(d for d in k.dockers() if d.objectName() == "impasto_style_transfer")
    STATE["docker"] = docker
    EVIDENCE["docker_visible"] = docker.isVisible()
    EVIDENCE["daemon_states_seen"] = []
    docker.link.state_changed.connect(guarded(on_daemon_state))
    on_daemon_state()
    QTimer.singleShot(SCENARIO["timeout"] * 1000, on_timeout)
    note("docker shown", state=label("daemon_state"))
    # The stall timer measures the event loop from here: until now this function held it
    # (opening the image, building the docker: about a second, more on a loaded machine).
    EVIDENCE["setup_ms"] = round((time.monotonic() - STATE["t0"]) * 1000)
    STATE["last_tick"] = None
    if MODE == "unreachable":
        QTimer.singleShot(100, unreachable)
    else:
        wait_for_daemon()


def on_timeout() -> None:
    """Most hangs are a dialog waiting for a click: name it in the evidence."""
    modal = QApplication.activeModalWidget()
    if modal is not None:
        texts = [w.text() for w in modal.findChildren(QLabel) if w.text()]
        EVIDENCE["modal_dialog"] = [modal.windowTitle(), *texts]
    note("timeout")
    finish(3)


def open_run() -> None:
    """Open the image as a new document in this run's colour model and select a rectangle."""
    if len(RUNS) > 1:
        EVIDENCE["runs"].append({"previews": []})
    else:
        EVIDENCE["previews"] = []
    k = Krita.instance()
    image = Path(SCENARIO["image"])
    if len(RUNS) > 1:  # a file of its own per run: Krita knows documents by their file
        copy = OUT / f"{prefix()}{image.name}"
        copy.write_bytes(image.read_bytes())
        image = copy
    doc = k.openDocument(str(image))
    doc.setBatchmode(True)
    doc.waitForDone()
    k.activeWindow().addView(doc)
    STATE["doc"] = doc
    convert = RUNS[STATE["run"]].get("convert")
    if convert:  # e.g. ["RGBA", "U16", ""]: another colour model or depth
        if not doc.setColorSpace(*convert):
            raise RuntimeError(f"Krita could not convert to {convert}")
        doc.waitForDone()
    source = doc.rootNode().childNodes()[0]
    doc.setActiveNode(source)
    STATE["source"] = source
    ev().update(
        size=[doc.width(), doc.height()],
        color=[source.colorModel(), source.colorDepth(), source.colorProfile()],
        source_before=dump("source_before.bin", whole(source)),
        projection_before=dump("projection_before.bin", whole(doc)),
    )
    x, y, w, h = SCENARIO["selection"]
    sel = Selection()
    sel.select(x, y, w, h, 255)
    doc.setSelection(sel)
    dump("selection.bin", whole(doc.selection()))
    doc.waitForDone()  # the selection adds a "Selection Mask" node: count it as before
    STATE["names_before"] = [n.name() for n in doc.rootNode().childNodes()]
    ev()["layers_before"] = STATE["names_before"]


def on_daemon_state() -> None:
    text = label("daemon_state")
    seen = EVIDENCE["daemon_states_seen"]
    if not seen or seen[-1] != text:
        seen.append(text)
        note("daemon state", state=text)


def palette_settled(docker) -> bool:
    """The daemon is ready and, if it has built-in styles, their swatches have arrived."""
    if docker.link.state.value != "ready":
        return False
    grid = docker.findChild(QListWidget, "palette")
    return grid.count() > 0 or not (docker.link.welcome or {}).get("presets")


@guarded
def wait_for_daemon() -> None:
    docker = STATE["docker"]
    ready = docker.findChild(QPushButton, "start").isEnabled()
    if ready and MODE == "busy" and "busy with" not in label("daemon_state"):
        ready = False  # wait for the status poll that sees the other client's job
    if not ready:
        QTimer.singleShot(100, wait_for_daemon)
        return
    if (SCENARIO.get("palette") or SCENARIO.get("trained")) and not palette_settled(docker):
        QTimer.singleShot(100, wait_for_daemon)
        return
    note("daemon usable", state=label("daemon_state"))
    EVIDENCE["usable_state"] = label("daemon_state")
    EVIDENCE["instant_ui"] = instant_ui(docker)
    if MODE == "remember_write":
        remember_write(docker)
    elif MODE == "remember_read":
        remember_read(docker)
    elif (SCENARIO.get("geometry") or SCENARIO.get("screenshots")) and "geometry" not in EVIDENCE:
        check_geometry(docker)
    else:
        fill_in_and_start(docker)


def check_geometry(docker) -> None:
    """In the docker's own default place and size (on the scenario's screen): where Start,
    Cancel and the progress are with Advanced closed and open; with `screenshots`, pictures of
    both for the README."""
    window = Krita.instance().activeWindow().qwindow()
    if not opt("typo"):  # (else fill_in_and_start adds it, after a mistyped path)
        docker.findChild(QLineEdit, "style_path").setText(SCENARIO["style"])
        docker.findChild(QPushButton, "add_style").click()
    EVIDENCE["geometry"] = {"window": [window.width(), window.height()]}
    # The strength: typed into its box, then Reset, as a user would.
    slider, box = (
        docker.findChild(QSlider, "strength"),
        docker.findChild(QSpinBox, "strength_value"),
    )
    box.setValue(80)
    typed = [slider.value(), label("strength_word"), slider.toolTip()]
    docker.findChild(QToolButton, "strength_reset").click()
    EVIDENCE["strength_control"] = {"typed": typed, "reset": [box.value(), label("strength_word")]}

    def measure(key: str) -> None:
        EVIDENCE["geometry"][key] = {
            name: fully_shown(docker.findChild(QWidget, name), window)
            for name in ("start", "cancel", "progress")
        }
        EVIDENCE["geometry"][key]["docker"] = [docker.width(), docker.height()]

    def closed() -> None:
        measure("advanced_closed")
        if SCENARIO.get("screenshots"):
            shoot("docker_idle")
        docker.findChild(QToolButton, "advanced_toggle").click()
        QTimer.singleShot(500, guarded(opened))

    def opened() -> None:
        measure("advanced_open")
        EVIDENCE["wheel"] = wheel_over_settings(docker)
        form = docker.findChild(QWidget, "advanced")
        EVIDENCE["geometry"]["advanced_shown"] = form.isVisible()
        EVIDENCE["geometry"]["labels"] = [w.text() for w in form.findChildren(QLabel) if w.text()]
        shown = [w.text() for w in form.findChildren(QLabel) if w.text() and w.isVisible()]
        EVIDENCE["geometry"]["shown_labels"] = shown
        EVIDENCE["geometry"]["scales_text"] = form.findChild(QSpinBox, "setting_scales").text()
        if SCENARIO.get("screenshots"):
            shoot("docker_advanced")
        docker.findChild(QToolButton, "advanced_toggle").click()
        QTimer.singleShot(300, guarded(lambda: fill_in_and_start(docker)))

    QTimer.singleShot(800, guarded(closed))


def instant_ui(docker) -> dict:
    """What the mode choice and the palette offer once the daemon is ready."""
    combo = docker.findChild(QComboBox, "mode")
    toggle = docker.findChild(QToolButton, "palette_toggle")
    grid = docker.findChild(QListWidget, "palette")
    icons = [grid.item(i).icon().pixmap(36, 36).toImage() for i in range(grid.count())]
    return {
        "modes": [combo.itemText(i) for i in range(combo.count())],
        "mode_tips": [combo.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(combo.count())],
        "mode": combo.currentText(),
        "mode_enabled": combo.isEnabled(),
        "mode_tooltip": combo.toolTip(),
        "palette_enabled": toggle.isEnabled(),
        "palette_tooltip": toggle.toolTip(),
        "palette_count": grid.count(),
        "swatch_sizes": sorted({(i.width(), i.height()) for i in icons}),
        "distinct_swatches": len({bytes(i.constBits().asstring(i.sizeInBytes())) for i in icons}),
        "grid_height": grid.height() if grid.isVisible() else grid.maximumHeight(),
    }


def choose_mode(docker, text: str) -> None:
    combo = docker.findChild(QComboBox, "mode")
    if not combo.isEnabled():
        raise RuntimeError(f"the mode choice is disabled: {combo.toolTip()}")
    combo.setCurrentIndex(combo.findText(text))  # as a user's pick: currentIndexChanged


def choose_presets(docker, presets: dict) -> None:
    """Open the palette, click the swatches, set their weights."""
    toggle = docker.findChild(QToolButton, "palette_toggle")
    if not toggle.isChecked():
        toggle.click()
    grid = docker.findChild(QListWidget, "palette")
    ev()["palette_open"] = grid.isVisible()
    for k, weight in presets.items():
        grid.item(int(k)).setSelected(True)  # what a click on the swatch does
        spin = docker.findChild(QDoubleSpinBox, f"preset_weight_{k}")
        ev()["default_preset_weight"] = spin.value()
        spin.setValue(weight)
    ev()["palette_label"] = toggle.text()


def choose_trained(docker, names: list) -> None:
    """Tick the daemon's trained styles in the docker's list, as a click on the box does."""
    box = docker.findChild(QListWidget, "trained_list")
    section = docker.findChild(QWidget, "trained_section")
    items = {box.item(row).text(): box.item(row) for row in range(box.count())}
    ev()["trained_items"] = sorted(items)
    ev()["trained_visible"] = section.isVisible()
    ev()["trained_tooltips"] = [items[n].toolTip() for n in sorted(items)]
    ev()["trained_icons"] = [not items[n].icon().isNull() for n in sorted(items)]
    for name in names:
        items[name].setCheckState(Qt.CheckState.Checked)
    ev()["trained_title"] = section.findChild(QLabel).text()


def train_style(docker) -> None:
    """Train the style image just added, as `train` says: {"steps": N}, and {"stop_at": K} to
    press Stop once the training reports step K. Records what the Train row showed, waits for
    the training's end and for the daemon's styles to list it, then goes on with the run."""
    train = opt("train")
    section = docker.findChild(QWidget, "train_section")
    steps = docker.findChild(QSpinBox, "train_steps")
    button = docker.findChild(QPushButton, "train_style")
    status = docker.findChild(QLabel, "train_status")
    stop = docker.findChild(QPushButton, "train_stop")
    ev()["train_ui"] = {
        "visible": section.isVisible(),
        "enabled": button.isEnabled(),
        "default_steps": steps.value(),
        "tooltip": button.toolTip(),
        "stop_visible": stop.isVisible(),
    }
    texts = ev().setdefault("train_texts", [])

    def record() -> None:
        if not texts or texts[-1] != status.text():
            texts.append(status.text())
        training = docker.training
        if train.get("stop_at") and training.state.value == "training" and stop.isVisible():
            if f": {train['stop_at']}/" in status.text():
                ev()["stop_enabled"] = stop.isEnabled()
                stop.click()

    docker.training.changed.connect(guarded(record))
    steps.setValue(train["steps"])
    click_focused(button)
    ev()["train_job_steps_enabled"] = steps.isEnabled()
    deadline = time.monotonic() + 120

    def ended() -> None:
        if docker.training.state.active:
            QTimer.singleShot(100, guarded(ended))
            return
        box = docker.findChild(QListWidget, "trained_list")
        names = [box.item(row).text() for row in range(box.count())]
        if train.get("stop_at") is None and docker.training.name not in names:
            if time.monotonic() < deadline:  # the styles are read again after the result
                QTimer.singleShot(100, guarded(ended))
                return
        on = Qt.CheckState.Checked
        checked = [n for r, n in enumerate(names) if box.item(r).checkState() == on]
        title = docker.findChild(QWidget, "trained_section").findChild(QLabel).text()
        ev()["train_end"] = {
            "name": docker.training.name,
            "job": docker.training.job_id,
            "text": status.text(),
            "listed": names,
            "checked": checked,
            "trained_title": title,
            "button_enabled": button.isEnabled(),
            "stop_visible": stop.isVisible(),
            "focus": focus_holder(),
        }
        note("training ended", text=status.text())
        fill_in_and_start(docker)

    QTimer.singleShot(100, guarded(ended))


def fill_in_and_start(docker) -> None:
    if opt("no_style"):
        table = docker.findChild(QTableWidget, "style_list")
        for row in reversed(range(table.rowCount())):
            table.selectRow(row)
            docker.findChild(QPushButton, "remove_style").click()
    elif docker.findChild(QTableWidget, "style_list").rowCount() == 0:
        path = docker.findChild(QLineEdit, "style_path")
        if opt("typo"):  # a mistyped path first: Add refuses it and keeps it to be corrected
            path.setText(SCENARIO["style"] + "x")
            docker.findChild(QPushButton, "add_style").click()
            ev()["typo"] = {"message": label("message"), "path_kept": path.text()}
        if opt("train"):  # Train before a style is there: refused, until one is added
            docker.findChild(QPushButton, "train_style").click()
            ev()["train_refused"] = [label("message")]
        path.setText(SCENARIO["style"])
        docker.findChild(QPushButton, "add_style").click()
        if opt("train"):
            ev()["train_refused"].append(label("message"))
        if opt("typo"):
            ev()["typo"]["message_after_add"] = label("message")
    if opt("train") and "train_end" not in ev():
        train_style(docker)  # back here when the training has ended
        return
    if opt("mode_choice"):
        choose_mode(docker, opt("mode_choice"))
    if opt("presets"):
        choose_presets(docker, opt("presets"))
    if opt("trained"):
        choose_trained(docker, opt("trained"))
    ev()["strength_enabled"] = docker.findChild(QSlider, "strength").isEnabled()
    ev()["reset_enabled"] = docker.findChild(QToolButton, "strength_reset").isEnabled()
    if SCENARIO.get("screenshot"):  # a debugging aid: how the docker looks when Start is clicked
        docker.grab().save(str(OUT / f"{prefix()}docker.png"))
    docker.findChild(QSpinBox, "setting_size").setValue(SCENARIO["size"])
    docker.findChild(QSpinBox, "setting_iterations").setValue(SCENARIO["iterations"])
    docker.findChild(QCheckBox, "selection_only").setChecked(True)
    model = docker.model
    if "connected" not in STATE:  # one connection for all runs
        STATE["connected"] = True
        model.preview_applied.connect(guarded(on_preview))
        model.finished.connect(guarded(on_finished))
        model.state_changed.connect(lambda s: note("state", state=s))
        model.queued.connect(guarded(on_queued))
        model.progress.connect(lambda *_: bar_text())
    ev()["estimate_at_start"] = label("estimate")
    ev()["target_at_start"] = label("target_layer")
    ev()["undo_before"] = undo_history()
    click_focused(docker.findChild(QPushButton, "start"))
    ev()["focus_after_start"] = focus_holder()
    STATE["started_at"] = time.monotonic()
    note("start clicked", message=label("message"))
    if RUNS[STATE["run"]].get("refuse"):
        ev()["outcome"] = "refused" if not docker.model.state.active else "started"
        ev()["message"] = label("message")
        phase = docker.findChild(QLabel, "phase")
        ev()["phase_after_refusal"] = phase.text() if phase.isVisible() else ""
        QTimer.singleShot(0, guarded(after_finish))
        return
    if docker.model.state.value == "idle":
        raise RuntimeError("Start did nothing: " + label("message"))


def bar_text() -> None:
    """The progress bar's count and the sentence below it, in order, without repeats."""
    for key, text in (
        ("bar_texts", STATE["docker"].findChild(QProgressBar, "progress").format()),
        ("phase_texts", label("phase")),
    ):
        texts = ev().setdefault(key, [])
        if not texts or texts[-1] != text:
            texts.append(text)


def on_queued(position: int, replacing: bool) -> None:
    bar_text()
    if MODE == "busy" and not replacing:
        ev()["queued_phase"] = label("phase")
        STATE["polls_at_queue"] = STATE["docker"].link.status_replies
        QTimer.singleShot(0, guarded(busy_wait_for_poll))


@guarded
def busy_wait_for_poll() -> None:
    """Our job waits behind the other client's: a status poll answered after it was queued
    (two, in case one was under way), then what the state line says, then Cancel."""
    if STATE["docker"].link.status_replies < STATE["polls_at_queue"] + 2:
        QTimer.singleShot(100, busy_wait_for_poll)
        return
    text = label("daemon_state")
    ev()["busy_state"] = text
    STATE["docker"].findChild(QPushButton, "cancel").click()
    note("cancel clicked while queued")


def on_preview(iteration: int) -> None:
    layer = result_layer()
    digest = hashlib.sha256(whole(layer)).hexdigest() if layer is not None else None
    docker = STATE["docker"]
    job = docker.model.job
    ev()["previews"].append(
        {
            "iteration": iteration,
            "sha256": digest,
            "job": job.job_id if job else None,
            "active": active_layer(),  # where a brush stroke would land now
            "locked": layer.locked() if layer is not None else None,
        }
    )
    n = len(ev()["previews"])
    if n == 1 and layer is not None:
        dump("preview_first.bin", whole(layer))
    if n == 1 and SCENARIO.get("screenshots"):
        shoot("docker_running")
    if n == 1 and STATE.get("again_from") is not None:  # the second job on the same layer
        before, now = STATE["again_from"], whole(STATE["doc"])
        bpp = len(now) // (STATE["doc"].width() * STATE["doc"].height())
        changed = sum(now[i : i + bpp] != before[i : i + bpp] for i in range(0, len(now), bpp))
        ev()["again_preview_changed"] = changed
        ev()["again_layers"] = [n.name() for n in STATE["doc"].rootNode().childNodes()]
    if MODE == "cancel" and n == 1:
        cancel = docker.findChild(QPushButton, "cancel")
        QTimer.singleShot(0, guarded(lambda: click_focused(cancel)))
        note("cancel clicked")
    if MODE == "close" and n == 1:
        if "panel_closed" not in EVIDENCE:
            EVIDENCE["panel_closed"] = True  # as its title bar's close button does
            QTimer.singleShot(0, guarded(docker.close))
            note("panel closed")
        else:
            EVIDENCE["document_closed"] = True
            QTimer.singleShot(0, guarded(close_document))
    if SCENARIO.get("change_strength") and n == 2:
        slider = docker.findChild(QSlider, "strength")
        slider.setValue(slider.value() + 20)  # the docker replaces the job once it rests
        note("strength moved", value=slider.value())
        ev()["phase_before_change"] = label("phase")


def close_document() -> None:
    """As a user who answers "Discard" when asked whether to save the previews."""
    doc = STATE["doc"]
    doc.setModified(False)
    doc.close()
    note("document closed")


def on_finished(outcome: str) -> None:
    docker = STATE["docker"]
    note("finished", outcome=outcome)
    ev()["outcome"] = outcome
    ev()["start_to_finish_s"] = round(time.monotonic() - STATE["started_at"], 3)
    info = docker.model.last_result
    kept = ("warm_start", "iterations", "elapsed", "weights")
    ev()["result_info"] = {k: v for k, v in info.items() if k in kept}
    used = info.get("settings") or {}
    ev()["result_info"]["settings"] = {
        k: used.get(k)
        for k in (
            "method",
            "init",
            "presets",
            "preset_blend",
            "style_blend",
            "style_weight",
            "trained",
        )
    }
    ev()["done_bar"] = docker.findChild(QProgressBar, "progress").format()
    ev()["focus_after_end"] = focus_holder()
    ev()["done_phase"] = label("phase")
    QTimer.singleShot(200, guarded(after_finish))  # let late events (none expected) arrive


def after_finish() -> None:
    if EVIDENCE.get("document_closed"):
        EVIDENCE["documents_open"] = len(Krita.instance().documents())
        QTimer.singleShot(500, lambda: finish(0))  # a late event would raise a script error
        return
    doc = STATE["doc"]
    doc.refreshProjection()
    doc.waitForDone()
    layer = result_layer()
    ev()["layers_after"] = [n.name() for n in doc.rootNode().childNodes()]
    ev()["active_after"] = active_layer()
    ev()["undo_after"] = undo_history()
    ev()["target_after"] = label("target_layer")
    ev()["estimate_after"] = label("estimate")  # asked again when the job finished
    ev()["source_after"] = dump("source_after.bin", whole(STATE["source"]))
    ev()["projection_after"] = dump("projection_after.bin", whole(doc))
    if layer is not None:
        ev()["result_layer"] = layer.name()
        ev()["result_color"] = [layer.colorModel(), layer.colorDepth()]
        ev()["result_sha256"] = dump("result.bin", whole(layer))
        ev()["result_locked"] = layer.locked()
    if SCENARIO.get("save"):
        kra = str(OUT / "saved.kra")
        ev()["saved"] = bool(doc.saveAs(kra))
        doc.waitForDone()
    if SCENARIO.get("undo"):
        Krita.instance().action("edit_undo").trigger()
        doc.waitForDone()
        ev()["layers_after_undo"] = [n.name() for n in doc.rootNode().childNodes()]
    if MODE == "close":  # the panel was closed: open it again, start, close the document
        EVIDENCE["panel_visible_after_close"] = STATE["docker"].isVisible()
        Krita.instance().action("impasto_show_style_transfer").trigger()
        EVIDENCE["panel_visible_reopened"] = STATE["docker"].isVisible()
        ev()["previews"] = []
        fill_in_and_start(STATE["docker"])
        return
    if SCENARIO.get("again") and "again" not in EVIDENCE:  # Start again, as a user would
        EVIDENCE["again"] = {"active_before": active_layer(), "layers_before": ev()["layers_after"]}
        STATE["again_from"] = whole(doc)  # the canvas with the first result
        STATE["doc"].refreshProjection()
        first = {k: ev()[k] for k in ("result_layer", "layers_after", "active_after", "undo_after")}
        EVIDENCE["first"] = first
        ev()["previews"] = []
        STATE["names_before"] = ev()["layers_after"]
        fill_in_and_start(STATE["docker"])
        return
    if STATE["run"] + 1 < len(RUNS):  # the next run in a new document, this one stays open
        STATE["run"] += 1
        open_run()
        fill_in_and_start(STATE["docker"])
        return
    finish(0)


@guarded
def unreachable() -> None:
    """No daemon and no command to start one: the state line says so, quickly, and the UI
    keeps running (the stall timer) while the link retries in the background."""
    text = label("daemon_state")
    if "unreachable" not in text:
        QTimer.singleShot(100, unreachable)
        return
    EVIDENCE["unreachable_after_s"] = round(time.monotonic() - STATE["t0"], 2)
    EVIDENCE["start_enabled"] = STATE["docker"].findChild(QPushButton, "start").isEnabled()
    QTimer.singleShot(SCENARIO.get("linger_ms", 2500), lambda: finish(0))


def remember_write(docker) -> None:
    """Set what a user would set; Krita writes kritarc when it quits."""
    docker.findChild(QLineEdit, "style_path").setText(SCENARIO["style"])
    docker.findChild(QPushButton, "add_style").click()
    docker.findChild(QLineEdit, "style_path").setText(SCENARIO["style2"])
    docker.findChild(QPushButton, "add_style").click()
    docker.findChild(QTableWidget, "style_list").cellWidget(1, 0 + 1).setValue(2.5)
    docker.findChild(QSlider, "strength").setValue(70)
    preset = docker.findChild(QComboBox, "preset")
    preset.setCurrentIndex(preset.findData("Draft"))
    docker.findChild(QSpinBox, "setting_seed").setValue(1234)
    docker.findChild(QSpinBox, "setting_iterations").setValue(77)
    docker.findChild(QCheckBox, "selection_only").setChecked(False)
    choose_mode(docker, "Refine")
    choose_presets(docker, {"5": 2.5, "20": 1.0})
    EVIDENCE["widgets"] = read_widgets(docker)
    quit_krita()


def remember_read(docker) -> None:
    EVIDENCE["widgets"] = read_widgets(docker)
    finish(0)


def read_widgets(docker) -> dict:
    table = docker.findChild(QTableWidget, "style_list")
    grid = docker.findChild(QListWidget, "palette")
    return {
        "styles": [
            [table.item(r, 0).toolTip(), table.cellWidget(r, 1).value()]
            for r in range(table.rowCount())
        ],
        "strength": docker.findChild(QSlider, "strength").value(),
        "preset": docker.findChild(QComboBox, "preset").currentData(),
        "seed": docker.findChild(QSpinBox, "setting_seed").value(),
        "size": docker.findChild(QSpinBox, "setting_size").value(),
        "iterations": docker.findChild(QSpinBox, "setting_iterations").value(),
        "selection_only": docker.findChild(QCheckBox, "selection_only").isChecked(),
        "mode": docker.findChild(QComboBox, "mode").currentText(),
        "palette": {
            str(k): docker.findChild(QDoubleSpinBox, f"preset_weight_{k}").value()
            for k in sorted(int(i.data(Qt.ItemDataRole.UserRole)) for i in grid.selectedItems())
        },
    }


def quit_krita() -> None:
    """Settings reach kritarc when Krita quits the normal way: close the main window (no
    document is open, so nothing asks to be saved), then leave with our own exit code."""
    EVIDENCE["quit"] = "window closed"
    (OUT / "evidence.json").write_text(json.dumps(EVIDENCE, indent=1, default=str))
    Krita.instance().activeWindow().qwindow().close()
    finish(0)


class Harness(Extension):
    def setup(self) -> None:
        record_script_errors()
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(0, start))

    def createActions(self, window) -> None:
        pass


Krita.instance().addExtension(Harness(Krita.instance()))
