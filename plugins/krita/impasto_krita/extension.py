"""The menu action (Tools > Scripts > Style Transfer...) that shows the docker."""

from __future__ import annotations

from typing import Any

from krita import Extension, Krita

from .docker import DOCKER_ID, TITLE
from .qt import QTimer

ACTION_ID = "impasto_show_style_transfer"


def show_docker() -> None:
    for dock in Krita.instance().dockers():
        if dock.objectName() == DOCKER_ID or dock.windowTitle() == TITLE:
            dock.show()
            dock.raise_()
            claim = getattr(dock, "claim_room", None)
            if claim is not None:  # once the layout has placed it
                QTimer.singleShot(0, claim)
            return


class ImpastoExtension(Extension):
    def setup(self) -> None:
        pass  # nothing until a window exists: createActions below

    def createActions(self, window: Any) -> None:
        action = window.createAction(ACTION_ID, f"{TITLE}...", "tools/scripts")
        action.setToolTip("Show the Impasto style transfer panel")
        action.triggered.connect(show_docker)
