"""The docker's "Whole animation" option, above Start, and the clip jobs it starts.

When the active layer is animated (two frames or more in the playback range), Start can
stylize every frame as one clip job (clip_model.py) instead of the still picture, into a new
animated layer that receives the frames as they come: the option says how many frames that
is, and is off until ticked. It is disabled, with the reason in its
tooltip, while the layer is no animation or the daemon runs no clips. The footer shows the
clip's progress in frames ("frame 2 of 5, about 20 s left") and Cancel cancels it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from impasto_protocol import policy

from . import document, progress_text
from .clip_model import ClipModel
from .focus import set_enabled
from .footer import Footer
from .model import JobState
from .qt import QCheckBox, QObject, QTimer

REFRESH_MS = 1000  # the active layer may change, or gain keyframes, at any moment
HELP = (
    "Stylize every frame of the active layer in the playback range as one job: the frames are "
    "painted consistently, without flicker, into a new animated layer above it (one undo step)."
)
NOT_ANIMATED = "the active layer is not animated: it needs two frames or more in the playback range"


class AnimationOption(QObject):
    def __init__(
        self,
        link: Any,
        documents: Callable[[], Any],
        footer: Footer,
        changed: Callable[[], None],
        say: Callable[[str], None],
    ) -> None:
        """`changed()` when a clip's state changes (the buttons follow), `say(text)` for the
        model's messages; the option goes above the footer's Start."""
        super().__init__(footer)
        self.footer = footer
        self.model = ClipModel(link, documents, self)
        self.check = QCheckBox("Whole animation")
        self.check.setObjectName("whole_animation")
        footer.layout().insertWidget(0, self.check)
        self.model.state_changed.connect(lambda _: changed())
        self.model.message.connect(say)
        self.model.progress.connect(self._on_progress)
        self.model.finished.connect(self._on_finished)
        footer.cancel.clicked.connect(self.model.cancel)
        document.on_document_closed(self.model.check_document)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(REFRESH_MS)
        self.refresh()

    def wanted(self) -> bool:
        """Whether Start stylizes the animation rather than the still picture."""
        return self.check.isEnabled() and self.check.isChecked()

    def cancellable(self) -> bool:
        return self.model.cancellable()

    def refresh(self) -> None:
        """The option's frame count and whether it applies, for the active layer now."""
        if self.model.state.active:
            return  # the count of the clip that runs stays
        why = self.model.unavailable()
        frames = 0 if why else self.model.frame_count()
        why = why or ("" if frames else NOT_ANIMATED)
        self.check.setText(f"Whole animation ({frames} frames)" if frames else "Whole animation")
        self.check.setToolTip(HELP if not why else f"{HELP}\nNot now: {why}")
        set_enabled(self.check, not why, document.canvas)

    def _on_progress(self, done: int, total: int, eta: float) -> None:
        seconds = eta if eta >= 0 else None
        self.footer.show_progress(*progress_text.clip_progress(done, total, seconds))

    def _on_finished(self, outcome: str) -> None:
        if outcome != JobState.DONE.value:
            self.footer.show_progress(0.0, "", outcome)
            return
        info = self.model.last_result
        elapsed = info.get("elapsed")
        took = f" in {policy.duration(elapsed)}" if isinstance(elapsed, (int, float)) else ""
        self.footer.show_progress(1.0, "done", f"done: {info.get('frames', '?')} frames{took}")
