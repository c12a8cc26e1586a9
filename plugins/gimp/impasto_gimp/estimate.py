"""What OK would do, asked of the daemon on a worker thread while the settings dialog is open.

The dialog shows one line under the settings: the size the job computes at, the time the
daemon expects from the iteration costs it measured (protocol 1.4's `estimate`), whether it
runs in tiles, and whether the result will be scaled up to the layer or selection. Each change
of an argument asks again; only the latest question is answered. No GIMP or GTK here: the
dialog computes the region on its own thread and turns `on_text` into a main-loop call.

The worker never starts a daemon (the palette's worker does that, prefetch.py); it asks only
one that answers, and asks again after the palette's worker is done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from impasto_protocol import Client, EstimateRequest, ImpastoError, policy
from impasto_protocol.modes import Mode

from .settings import (
    Arguments,
    Features,
    SettingsInputError,
    engine_settings,
    parse_quality,
    with_quality,
)

log = logging.getLogger(__name__)

TIMEOUT = 2.0  # seconds for a connection or an answer: the dialog must not wait for a daemon

# What Automatic chose, by the question (the arguments with quality Automatic, and the region):
# the next answer to the same question keeps it within policy.AUTOMATIC_HYSTERESIS. Shared by
# the dialog's worker and the run in this plug-in process, so OK submits the preset that the
# estimate line named, though the daemon's estimates moved a little in between.
_automatic: dict[tuple[Arguments, tuple[int, int], bool], policy.Quality] = {}
_automatic_lock = threading.Lock()


class Estimator:
    """`ask` from any thread; `on_text` is called on the worker thread with the line to show
    ("" when there is nothing to say: no daemon, or an older one)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.on_text: Callable[[str], None] = lambda text: None
        self._lock = threading.Condition()
        self._asked: tuple[Arguments, tuple[int, int], int] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="impasto-estimate", daemon=True)
        self._thread.start()

    def ask(self, args: Arguments, region: tuple[int, int], n_styles: int) -> None:
        """The dialog's arguments, the size of the pixels OK would send, and how many style
        images (only whether there is any matters here)."""
        with self._lock:
            self._asked = (args, region, n_styles)
            self._lock.notify()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()

    def _work(self) -> None:
        client: Client | None = None
        try:
            while True:
                with self._lock:
                    while self._asked is None and not self._closed:
                        self._lock.wait()
                    if self._closed:
                        return
                    asked, self._asked = self._asked, None
                assert asked is not None
                if client is None:
                    client = self._connect()
                if client is None:
                    self.on_text("")
                    continue
                try:
                    self.on_text(_line(client, *asked))
                except ImpastoError as exc:
                    log.info("estimate: %s", exc)
                    client.close()
                    client = None
                    self.on_text("")
        finally:
            if client is not None:
                client.close()

    def _connect(self) -> Client | None:
        client = Client(self.endpoint, timeout=TIMEOUT, name="impasto-gimp-estimate")
        try:
            client.hello()
        except ImpastoError:
            client.close()
            return None
        if not Features.from_hello(client.welcome or {}).estimate:  # an older daemon
            client.close()
            return None
        return client


def resolve(
    client: Client,
    args: Arguments,
    region: tuple[int, int],
    n_styles: int,
    asked: dict[str, dict[str, Any]] | None = None,
) -> tuple[Arguments, str]:
    """The arguments with Automatic replaced by the preset it stands for on this daemon
    (policy.automatic_quality, from the daemon's estimates, keeping what it chose for the
    same question before within its hysteresis), and the quality's words for the estimate
    line ("Automatic: Normal"). Without the daemon's times (an older daemon, an error reply)
    Automatic is the default preset. Raises SettingsInputError for bad input.
    `asked` collects the estimate_reply of each preset asked about, by its value."""
    chosen = parse_quality(args.quality)
    if chosen is None:
        if Features.from_hello(client.welcome or {}).estimate:

            def seconds(quality: policy.Quality) -> float | None:
                body = ask_estimate(client, with_quality(args, quality), region, n_styles)
                if asked is not None:
                    asked[quality.value] = body
                value = body.get("seconds")
                return float(value) if isinstance(value, (int, float)) else None

            key = (args, region, n_styles > 0)
            with _automatic_lock:
                previous = _automatic.get(key)
            try:
                chosen = policy.automatic_quality(seconds, previous)
                with _automatic_lock:
                    _automatic[key] = chosen
            except ImpastoError as exc:  # the submit will hear the same, if it matters
                log.info("automatic quality: no estimate (%s)", exc)
                chosen = policy.DEFAULT_QUALITY
        else:
            chosen = policy.DEFAULT_QUALITY  # an older daemon: no times to choose by
        label = f"{policy.AUTOMATIC_LABEL}: {chosen.label}"
    else:
        label = chosen.label
    return with_quality(args, chosen), (label if args.size == 0 else "Custom")


def ask_estimate(
    client: Client, args: Arguments, region: tuple[int, int], n_styles: int
) -> dict[str, Any]:
    """The daemon's estimate_reply for what OK would submit (args' quality resolved)."""
    welcome = client.welcome or {}
    settings = engine_settings(
        args,
        welcome.get("defaults", {}),
        region,
        Features.from_hello(welcome),
        welcome.get("limits", {}),
    )
    # Without styles or presets OK would refuse; that is said then, not here.
    styles = n_styles if n_styles or settings.get("presets") else 1
    return client.estimate(EstimateRequest(*region, settings, styles=styles))


def _line(client: Client, args: Arguments, region: tuple[int, int], n_styles: int) -> str:
    asked: dict[str, dict[str, Any]] = {}
    try:
        args, label = resolve(client, args, region, n_styles, asked)
        body = asked.get(args.quality) or ask_estimate(client, args, region, n_styles)
    except SettingsInputError as exc:
        return str(exc)
    except ImpastoError as exc:
        if getattr(exc, "code", "") in ("invalid_field", "too_large"):
            return str(exc)  # what OK would be told, said now
        raise
    text = policy.estimate_text(label, body, *region, instant=args.mode == Mode.INSTANT.value)
    log.info("estimate: %s", text)
    return text
