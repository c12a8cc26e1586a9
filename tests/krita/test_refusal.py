"""The docker's line after a refused Start or Train (impasto_krita.refusal) follows the state:
it says what stops them now, and goes once nothing does. The real model and footer (PyQt5 on
Qt's offscreen platform), on test_model_unit's numpy document and in-memory link."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("PyQt5.QtWidgets", reason="the plug-in's Qt: pip install -e .[test]")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "krita"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from impasto_krita.daemon_link import LinkState
from impasto_krita.footer import Footer
from impasto_krita.model import NO_IMAGE, NO_STYLE, StyleTransferModel
from impasto_krita.refusal import RefusalLine, succeeds
from impasto_krita.request import StyleChoice, style_to_train
from PyQt5.QtGui import QImage
from PyQt5.QtWidgets import QApplication
from test_model_unit import ArrayDocument, MemoryLink

from impasto_protocol.modes import Mode


@pytest.fixture(scope="module")
def app() -> QApplication:
    return QApplication.instance() or QApplication([])


def test_why_not_says_what_stops_start_now() -> None:
    link, doc = MemoryLink(), ArrayDocument()
    model = StyleTransferModel(link, lambda: doc if doc.open else None)  # type: ignore[arg-type]
    choice = StyleChoice(files=[("hubble.png", 1.0)], mode=Mode.PAINT)
    link.state, doc.open = LinkState.LOADING, False
    assert model.why_not(choice) == "cannot start: loading"
    link.state = LinkState.READY
    assert model.why_not(choice) == NO_IMAGE
    doc.open = True
    assert model.why_not(choice) == ""
    assert model.why_not(StyleChoice()) == NO_STYLE
    assert model.why_not(StyleChoice(presets={3: 1.0})) == ""


def test_the_line_of_a_refused_start_goes_once_its_cause_has(app: QApplication) -> None:
    link, doc = MemoryLink(), ArrayDocument()
    model = StyleTransferModel(link, lambda: doc if doc.open else None)  # type: ignore[arg-type]
    footer = Footer()
    line = RefusalLine(footer)
    choice = StyleChoice(files=[("hubble.png", 1.0)])
    doc.open = False
    line.refused(NO_IMAGE, lambda: model.why_not(choice))
    line.refresh()  # nothing changed: it stays
    assert footer.message.text() == NO_IMAGE
    link.state = LinkState.LOADING  # the daemon went away meanwhile: the line says so now
    line.refresh()
    assert footer.message.text() == "cannot start: loading"
    link.state, doc.open = LinkState.READY, True  # connected, an image opened
    line.refresh()
    assert footer.message.text() == "" and footer.message.isHidden()
    doc.open = False  # no longer followed: a later change says nothing by itself
    line.refresh()
    assert footer.message.text() == ""


def test_another_message_ends_the_follow_up(app: QApplication) -> None:
    footer = Footer()
    line = RefusalLine(footer)
    line.refused("open an image first", lambda: "")
    line.say("the job failed: out of memory")
    line.refresh()
    assert footer.message.text() == "the job failed: out of memory"


def test_the_line_of_a_refused_train_goes_once_the_style_is_added(
    app: QApplication, tmp_path: Path
) -> None:
    footer = Footer()
    line = RefusalLine(footer)
    paths: list[str] = []
    check = succeeds(lambda: style_to_train(paths, None, None))
    line.refused("add the style image to train first", check)
    line.refresh()
    assert footer.message.text() == "add the style image to train first"
    style = tmp_path / "hubble.png"
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    image.fill(0x336699)
    assert image.save(str(style))
    paths.append(str(style))  # the style image added
    line.refresh()
    assert footer.message.text() == ""
