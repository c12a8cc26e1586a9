"""A Krita start-up plug-in that drives the Impasto docker as a user would, for the e2e tests.

It reads the scenario named by $IMPASTO_E2E_SCENARIO (JSON, written by tests/krita), opens the
image, selects a rectangle, opens the docker through its menu action, waits for the daemon,
fills in the docker's widgets and clicks Start (and Cancel, or moves the strength slider, when
the scenario says so). It records what the document looked like at each `preview_applied` and at
the end into files under the scenario's `out` folder, and exits with os._exit: 0 when the
scenario ran to its end (the pytest side judges the evidence), 2 on an exception, 3 on timeout.
Krita shows a dialog and keeps running on an uncaught exception, so everything is wrapped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QCheckBox, QLabel, QLineEdit, QPushButton, QSlider, QSpinBox

from krita import Extension, Krita, Selection

SCENARIO = json.loads(Path(os.environ["IMPASTO_E2E_SCENARIO"]).read_text())
OUT = Path(SCENARIO["out"])
EVIDENCE: dict = {"events": [], "previews": [], "python": sys.version}
STATE: dict = {}


def note(what: str, **fields) -> None:
    t = round(time.monotonic() - STATE.get("t0", 0), 3)
    EVIDENCE["events"].append({"t": t, "what": what, **fields})


def finish(code: int) -> None:
    try:
        docker = STATE.get("docker")
        if docker is not None:
            EVIDENCE["daemon_state"] = docker.findChild(QLabel, "daemon_state").text()
            EVIDENCE["message"] = docker.findChild(QLabel, "message").text()
            EVIDENCE["jobs"] = list(docker.model.jobs_seen)
            proc = docker.link.process
            EVIDENCE["daemon_pid"] = proc.pid if proc is not None else None
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


def dump(name: str, data: bytes) -> str:
    (OUT / name).write_bytes(data)
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
    k = Krita.instance()
    k.setBatchmode(True)
    doc = k.openDocument(SCENARIO["image"])
    doc.setBatchmode(True)
    doc.waitForDone()
    k.activeWindow().addView(doc)
    STATE["doc"] = doc
    if SCENARIO.get("convert"):  # e.g. ["RGBA", "U16", ""]: another colour model or depth
        if not doc.setColorSpace(*SCENARIO["convert"]):
            raise RuntimeError(f"Krita could not convert to {SCENARIO['convert']}")
        doc.waitForDone()
    source = doc.rootNode().childNodes()[0]
    doc.setActiveNode(source)
    STATE["source"] = source
    EVIDENCE.update(
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
    EVIDENCE["layers_before"] = STATE["names_before"]
    QTimer.singleShot(SCENARIO["timeout"] * 1000, lambda: (note("timeout"), finish(3)))
    k.action("impasto_show_style_transfer").trigger()  # the plug-in's menu action
    docker = next(d for d in k.dockers() if d.objectName() == "impasto_style_transfer")
    STATE["docker"] = docker
    EVIDENCE["docker_visible"] = docker.isVisible()
    note("docker shown", state=docker.findChild(QLabel, "daemon_state").text())
    wait_for_daemon()


@guarded
def wait_for_daemon() -> None:
    docker = STATE["docker"]
    if not docker.findChild(QPushButton, "start").isEnabled():
        STATE.setdefault("states", set()).add(docker.findChild(QLabel, "daemon_state").text())
        QTimer.singleShot(100, wait_for_daemon)
        return
    EVIDENCE["daemon_states_seen"] = sorted(STATE.get("states", ()))
    note("daemon usable", state=docker.findChild(QLabel, "daemon_state").text())
    fill_in_and_start(docker)


def fill_in_and_start(docker) -> None:
    path = docker.findChild(QLineEdit, "style_path")
    path.setText(SCENARIO["style"])
    docker.findChild(QPushButton, "add_style").click()
    docker.findChild(QSpinBox, "setting_size").setValue(SCENARIO["size"])
    docker.findChild(QSpinBox, "setting_iterations").setValue(SCENARIO["iterations"])
    docker.findChild(QCheckBox, "selection_only").setChecked(True)
    model = docker.model
    model.preview_applied.connect(guarded(on_preview))
    model.finished.connect(guarded(on_finished))
    model.state_changed.connect(lambda s: note("state", state=s))
    docker.findChild(QPushButton, "start").click()
    note("start clicked", message=docker.findChild(QLabel, "message").text())
    if SCENARIO["mode"] == "refuse":
        EVIDENCE["outcome"] = docker.model.state.value
        QTimer.singleShot(0, guarded(after_finish))
        return
    if docker.model.state.value == "idle":
        raise RuntimeError("Start did nothing: " + docker.findChild(QLabel, "message").text())


def on_preview(iteration: int) -> None:
    layer = result_layer()
    digest = hashlib.sha256(whole(layer)).hexdigest() if layer is not None else None
    job = STATE["docker"].model.job
    EVIDENCE["previews"].append(
        {"iteration": iteration, "sha256": digest, "job": job.job_id if job else None}
    )
    n = len(EVIDENCE["previews"])
    docker = STATE["docker"]
    if SCENARIO["mode"] == "cancel" and n == 1:
        QTimer.singleShot(0, guarded(lambda: docker.findChild(QPushButton, "cancel").click()))
        note("cancel clicked")
    if SCENARIO.get("change_strength") and n == 2:
        slider = docker.findChild(QSlider, "strength")
        slider.setValue(slider.value() + 20)  # the docker replaces the job once it rests
        note("strength moved", value=slider.value())


def on_finished(outcome: str) -> None:
    docker = STATE["docker"]
    note("finished", outcome=outcome)
    EVIDENCE["outcome"] = outcome
    EVIDENCE["result_info"] = {
        k: v for k, v in docker.model.last_result.items() if k in ("warm_start", "iterations")
    }
    QTimer.singleShot(200, guarded(after_finish))  # let late events (none expected) arrive


def after_finish() -> None:
    doc = STATE["doc"]
    doc.refreshProjection()
    doc.waitForDone()
    layer = result_layer()
    EVIDENCE["layers_after"] = [n.name() for n in doc.rootNode().childNodes()]
    EVIDENCE["source_after"] = dump("source_after.bin", whole(STATE["source"]))
    EVIDENCE["projection_after"] = dump("projection_after.bin", whole(doc))
    if layer is not None:
        EVIDENCE["result_layer"] = layer.name()
        EVIDENCE["result_color"] = [layer.colorModel(), layer.colorDepth()]
        EVIDENCE["result_sha256"] = dump("result.bin", whole(layer))
    if SCENARIO.get("save"):
        kra = str(OUT / "saved.kra")
        EVIDENCE["saved"] = bool(doc.saveAs(kra))
        doc.waitForDone()
    if SCENARIO.get("undo"):
        Krita.instance().action("edit_undo").trigger()
        doc.waitForDone()
        EVIDENCE["layers_after_undo"] = [n.name() for n in doc.rootNode().childNodes()]
    finish(0)


class Harness(Extension):
    def setup(self) -> None:
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(0, start))

    def createActions(self, window) -> None:
        pass


Krita.instance().addExtension(Harness(Krita.instance()))
