"""The message line when Start or Train refused: it says what stops them now, not what did.

A refusal ("open an image first", "add the style image to train first", the daemon not yet
connected) is true until the painter acts on it. The line keeps the check that refused, runs
it again whenever the state changes (an image opened or another view chosen, the daemon
connected, a style added, the 2 s estimate poll), shows its new answer, and goes once nothing
stops them any more. Any other message ends the follow-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .footer import Footer
from .host import HostError

# What stops the action now, in words ("" : nothing); it may raise HostError or ValueError.
Check = Callable[[], str]


def succeeds(action: Callable[[], Any]) -> Check:
    """A check out of an action that raises why it cannot be done (e.g. reading the style
    to train): its message, or "" when it goes through."""

    def check() -> str:
        action()
        return ""

    return check


class RefusalLine:
    def __init__(self, footer: Footer) -> None:
        self._footer = footer
        self._check: Check | None = None

    def refused(self, text: str, check: Check) -> None:
        """Say why Start or Train refused, and follow it with `check`."""
        self._footer.show_message(text)
        self._check = check

    def say(self, text: str) -> None:
        """Any other line (an error, a job's end, "" to clear): no refusal to follow."""
        self._check = None
        self._footer.show_message(text)

    def refresh(self, *_: Any) -> None:
        """The state changed: what the refusal says now, or nothing once it is over."""
        check = self._check
        if check is None:
            return
        try:
            now = check()
        except (HostError, ValueError) as e:
            now = str(e)
        if now != self._footer.message.text():
            self._footer.show_message(now)
        if not now:
            self._check = None
