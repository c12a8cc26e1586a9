"""Live mode: the chosen layer (or the visible canvas) restyled while the painter paints.

Pure logic, driven by `tick()` (the docker's timer calls it; the unit tests call it with a fake
clock): no widget, no timer, no socket of its own. Each tick looks for a change of the area (the
layer's or the canvas's pixels, the selection's box with its context when "Selection only"
applies): by the host's `revision` where it has one (Krita: nothing is read until an update is
due), else by reading the area and comparing it with the last state read. A change starts the
debounce: an update is sent once the picture has been still for `pause` seconds, or `max_wait`
seconds after the first change not sent yet (so that continuous painting still gets updates);
nothing is sent while the picture stays as it was.

An update is one instant job (the fast method, the current style images, built-in and trained
styles) on a copy downscaled to `preview_size` (512 px by default): the network's one pass
takes a fraction of a second there. At most one job per document is unfinished on the daemon:
a newer state replaces the one in flight with the daemon's `replace` (it cancels the old job,
and the new one runs next, ahead of the queue); one sent before the daemon has accepted the
previous one waits for that `accepted`, since `replace` needs the job id. Every update carries
a sequence number, and a picture is shown only when it is newer than the one shown: a result
that was already on its way when its job was replaced never comes back after a newer one.

While the daemon is gone, live mode says so and waits; its jobs are forgotten, and the first
tick after the link is usable again sends the current state. Live off, a closed document, or a
closed docker (`stop()`) cancel every job it has on the daemon, including one whose `accepted`
is still on its way.

Refine when idle (`refine`, off by default): once the painter has left the picture unchanged
for `refine_after` seconds after its live picture came, the optimization improves that picture
(a job warm-started from the live job's result, `init_job`, at the same size, with the
strength's style weight); its previews replace the live picture as they come. The next change
cancels it at once and live mode goes on with instant updates; a refined state is not refined
again.

`apply()` copies the live picture into a new layer above the source: one undo step, named
like other results ("style (live, 512 px)"), at the area's full size. The picture is upscaled
(and masked by the feathered selection), not computed again at full size: Apply keeps the
picture the painter saw, at once; the instant network at another size paints brush strokes of
another scale (a Start in Instant mode computes at the chosen quality instead).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Protocol

from impasto_protocol import Cancelled, Pixels, Preview, Progress, RemoteError, Result, Submit
from impasto_protocol.modes import Mode, preset_fields, settings_for
from impasto_protocol.submission import KRITA_CLIENT, JobRefused, build_submit, job_label

from .host import Document, HostError, Target
from .jobs import Event, JobHandle
from .live_state import (
    LiveCounters,
    LivePicture,
    Pending,
    Update,
    same_document,
    shrink_qimage,
    state_digest,
)
from .request import JobRequest

__all__ = ["LiveCounters", "LiveModel", "LivePicture", "shrink_qimage"]

log = logging.getLogger(__name__)

PREVIEW_SIZE = 512  # the live copy's longer side (a setting of the docker)
PAUSE_S = 0.1  # a stroke's end: the picture unchanged this long
MAX_WAIT_S = 0.5  # continuous painting: an update at least this often
REFINE_AFTER_S = 3.0  # refine when idle: this long unchanged after the live picture came
EPSILON_S = 1e-6  # (clock arithmetic: 100.1 - 100.0 < 0.1)
MIN_PREVIEW_SIZE, MAX_PREVIEW_SIZE = 16, 2048
NO_STYLE = "choose a style image or layer, or a built-in or trained style"


class LiveDocument(Document, Protocol):
    """A Document that can also read the visible canvas (all layers merged) in an area, and
    may say cheaply whether pixels changed (`revision`: the same number means unchanged; a
    Document without it is read and compared at every tick)."""

    def read_canvas(self, target: Target) -> Pixels: ...

    def revision(self, target: Target, canvas: bool) -> int: ...


Shrink = Callable[[Pixels, int], Pixels]  # BGRA u8 with its longer side at most that


class LiveModel:
    """Live mode for the active document; see the module's docstring."""

    def __init__(
        self,
        link: Any,
        documents: Callable[[], Document | None],
        shrink: Shrink,
        clock: Callable[[], float],
        on_picture: Callable[[LivePicture], None] = lambda p: None,
        on_status: Callable[[str], None] = lambda s: None,
    ) -> None:
        """`link`: the DaemonLink (start_job, cancel, usable, describe, welcome, jobs)."""
        self.link = link
        self.documents = documents
        self.shrink = shrink
        self.clock = clock
        self.on_picture = on_picture
        self.on_status = on_status
        self.on = False
        self.canvas = False  # read the visible canvas instead of the active layer
        self.selection_only = True
        self.preview_size = PREVIEW_SIZE
        self.pause = PAUSE_S
        self.max_wait = MAX_WAIT_S
        self.refine = False
        self.refine_after = REFINE_AFTER_S
        self.request: JobRequest | None = None
        self.picture: LivePicture | None = None
        self.sent_settings: dict[str, Any] = {}  # the last update's, as sent (tests)
        self.counters = LiveCounters()
        self.status = ""
        self._doc: Document | None = None
        self._seen: str | None = None  # the digest of the state read last
        self._last: tuple[Any, bytes] | None = None  # that state's area and bytes
        self._rev: tuple[Any, int] | None = None  # the area and the host's revision read last
        self._pending: Pending | None = None
        self._updates: dict[JobHandle, Update] = {}  # unfinished, newest last
        self._seq = 0
        self._shown_seq = 0
        self._shown: tuple[Update, float] | None = None  # the update shown last, and when
        self._refined: str | None = None  # the digest refined last (never refined twice)
        self._applied: set[str] = set()  # the layers Apply made: not restyled themselves

    # -- commands -------------------------------------------------------------------------

    def start(self) -> None:
        """Live on: the current state is sent at the next tick."""
        self.on = True
        self._seen = None
        self._say("live: waiting for the first picture")

    def stop(self, why: str = "live is off") -> None:
        """Live off (or the docker closed): every job of live mode is cancelled."""
        self.on = False
        self._cancel_all()
        self._pending = None
        self._seen = None
        self._say(why)

    def set_request(self, request: JobRequest | None) -> None:
        """New styles (or none): the current state is sent again with them."""
        self.request = request
        self._seen = None

    def set_options(
        self, *, canvas: bool, selection_only: bool, preview_size: int, refine: bool = False
    ) -> None:
        if refine != self.refine:
            self.refine, self._refined = refine, None
            if not refine:
                self._cancel_refine()
        size = max(MIN_PREVIEW_SIZE, min(MAX_PREVIEW_SIZE, int(preview_size)))
        if (canvas, selection_only, size) != (self.canvas, self.selection_only, self.preview_size):
            self.canvas, self.selection_only, self.preview_size = canvas, selection_only, size
            self._seen = None

    def check_document(self) -> None:
        """Called when a document closes: live mode's jobs on it are cancelled."""
        if self._doc is not None and not self._doc.is_open():
            self._cancel_all()
            self._doc, self._pending, self._seen, self.picture = None, None, None, None
            self._shown = None
            self._say("live: the document was closed")

    @property
    def in_flight(self) -> int:
        """Live mode's unfinished jobs on the daemon (at most one, and briefly a replaced one
        whose `cancelled` is on its way)."""
        return len(self._updates)

    def job_ids(self) -> list[str]:
        return [u.job_id for u in self._updates.values() if u.job_id is not None]

    def tick(self) -> None:
        """Read the area, debounce, and send an update when it is due."""
        if not self.on:
            return
        if not self.link.usable():
            if self._updates:  # the daemon is gone with them (or cancels them: client_gone)
                for handle in list(self._updates):
                    self._drop(handle)
            self._seen, self._pending = None, None
            self._say(f"live waits for the daemon: {self.link.describe()}")
            return
        if self.request is None:
            self._say(f"live: {NO_STYLE}")
            return
        doc = self.documents()
        if doc is None or not doc.is_open():
            self._say("live: open an image")
            return
        if self._doc is None or not same_document(doc, self._doc):
            if self._doc is not None:  # another image is active: its picture starts over
                self._cancel_all()
                self._seen, self._pending, self.picture, self._shown = None, None, None, None
            self._doc = doc  # kept: it knows the layers its targets name
        self._read(self._doc)
        self._maybe_send()
        self._maybe_refine()

    def apply(self) -> str:
        """The live picture as a new layer above the source (one undo step); its id.
        HostError when there is no picture or its document is closed."""
        from . import imaging  # (QImage: the model's logic above needs no Qt)

        picture, doc = self.picture, self._doc
        if picture is None or doc is None:
            raise HostError("no live picture yet: paint, or wait for the first one")
        if not doc.is_open():
            raise HostError("the live picture's image was closed")
        target = picture.target
        area = target.area
        mask = None
        if target.selection is not None:
            radius = imaging.feather_radius(area.width, area.height)
            mask = imaging.feathered_mask(target.selection, area.width, area.height, radius)
        pixels = imaging.fitted(picture.image, area.width, area.height, mask)
        side = max(picture.image.width, picture.image.height)
        name = f"{picture.name} (live, {'refined, ' if picture.refined else ''}{side} px)"
        layer = doc.add_result_layer(target, name, frozenset())
        doc.write_result(target, layer, pixels, "u8")
        doc.keep_source_active(target, layer)
        self._applied.add(layer)
        return layer

    # -- reading and sending --------------------------------------------------------------

    def _read(self, doc: Document) -> None:
        """Note a change of the area. Where the host says when pixels change (`revision`),
        a change is only noted, and the pixels are read once the update is due: while the
        painter paints, the UI thread then reads at most one state per update instead of one
        per tick. Elsewhere each tick reads and compares."""
        try:
            target = doc.target(self.selection_only)
            fmt = target.format
            layer_8bit = fmt is None or (fmt.native, fmt.layout, fmt.dtype) == (True, "BGRA", "u8")
            if not self.canvas and not layer_8bit:  # (read through a converted copy: slow)
                raise HostError("live works on 8-bit RGBA layers: choose Canvas, or convert")
            if target.source in self._applied and not self.canvas:
                return  # (Krita makes a new layer active for a moment after Apply adds it)
            if hasattr(doc, "revision"):
                where = (target.source, target.area, target.selection, self.canvas)
                revision = (where, doc.revision(target, self.canvas))
                # (after a style or option change, _seen is None: the state is sent again)
                if revision != self._rev or (self._seen is None and self._pending is None):
                    self._rev = revision
                    self._changed(target, None, None)
                return
            pixels = self._read_area(doc, target)
        except HostError as e:
            self._say(f"live: {e}")
            return
        # Most ticks find the picture as it was: comparing the bytes (a memcmp) is several
        # times cheaper than hashing them, and Krita's UI thread pays for every tick.
        state = ((target.source, target.area, target.selection), bytes(pixels.data))
        if self._seen is not None and state == self._last:
            return
        self._last = state
        digest = state_digest(target, pixels)
        if digest == self._seen:
            return
        self._seen = digest
        self._changed(target, pixels, digest)

    def _read_area(self, doc: Document, target: Target) -> Pixels:
        if self.canvas and hasattr(doc, "read_canvas"):
            return doc.read_canvas(target)
        return doc.read_pixels(target)

    def _changed(self, target: Target, pixels: Pixels | None, digest: str | None) -> None:
        now = self.clock()
        first = self._pending.first_change if self._pending is not None else now
        self._pending = Pending(target, pixels, digest, first, now)
        self._cancel_refine()  # the painter is back: the CPU is theirs and the next update's

    def _maybe_send(self) -> None:
        pending = self._pending
        if pending is None:
            return
        now = self.clock()
        still = now - pending.last_change >= self.pause - EPSILON_S
        overdue = now - pending.first_change >= self.max_wait - EPSILON_S
        if not (still or overdue):
            return
        newest = self._newest()
        if newest is not None and newest.job_id is None:
            return  # `replace` needs the id: sent once the daemon has accepted the last one
        if pending.pixels is None:  # noted by its revision: read now
            assert self._doc is not None
            try:
                pixels = self._read_area(self._doc, pending.target)
            except HostError as e:
                self._say(f"live: {e}")
                return
            digest = state_digest(pending.target, pixels)
            if digest == self._seen:  # the same pixels after all
                self._pending = None
                return
            self._seen = digest
            pending = dataclasses.replace(pending, pixels=pixels, digest=digest)
        self._pending = None
        self._send(pending, newest)

    def _send(self, pending: Pending, newest: Update | None) -> None:
        request = self.request
        assert request is not None and pending.pixels is not None and pending.digest is not None
        if (
            not request.styles
            and not preset_fields(request.presets)
            and not request.settings.get("trained")
        ):
            self._say(f"live: {NO_STYLE}")
            return
        if pending.pixels.layout != "BGRA" or pending.pixels.dtype != "u8":
            self._say("live works on 8-bit RGBA layers only")
            return
        small = self.shrink(pending.pixels, self.preview_size)
        submit = self._submit(Mode.INSTANT, small, "live")
        if submit is None:
            return
        replacing = newest is not None and newest.job_id is not None
        if replacing:
            assert newest is not None
            submit = dataclasses.replace(submit, replace=newest.job_id)
        self._start(submit, Update(0, pending.target, pending.digest, request.style_name, small))
        self.counters.sent += 1
        self.counters.replaced += replacing

    def _maybe_refine(self) -> None:
        """Refine when idle: the optimization from the live picture of the current state, once
        it has stayed unchanged `refine_after` seconds after that picture came."""
        if not self.refine or self._pending is not None or self._updates or self._shown is None:
            return
        shown, at = self._shown
        if (
            shown.refine
            or shown.job_id is None
            or shown.digest != self._seen
            or shown.digest == self._refined
            or self.clock() - at < self.refine_after - EPSILON_S
            or self.request is None
        ):
            return
        self._refined = shown.digest
        side = max(shown.content.width, shown.content.height)
        # (the previews replace the live picture: at its size)
        submit = self._submit(Mode.PAINT, shown.content, "live, refine", preview_size=side)
        if submit is None:
            return
        submit = dataclasses.replace(submit, init_job=shown.job_id)
        self._start(
            submit, Update(0, shown.target, shown.digest, shown.name, shown.content, refine=True)
        )
        self.counters.refines += 1
        self._say("live: refining")

    def _submit(
        self, mode: Mode, content: Pixels, what: str, preview_size: int | None = None
    ) -> Submit | None:
        """A submit of `content` (already at the live size) in `mode` with the current styles;
        None (and the reason said) when the daemon could not take it. The optimization (refine)
        starts from the live picture (the caller's init_job), not from its `init`."""
        request = self.request
        assert request is not None
        settings = settings_for(mode, dict(request.settings))
        settings.update(preset_fields(request.presets))
        if mode is not Mode.INSTANT:
            settings.pop("init")
        settings["size"] = max(content.width, content.height)
        try:
            return build_submit(
                content,
                request.styles,
                settings,
                self.link.welcome,
                label=job_label(KRITA_CLIENT, f"{what}: {request.style_name}"),
                preview_size=preview_size,
                result_layout="BGRA",
                result_dtype="u8",
            )
        except JobRefused as e:
            self._say(f"live: {e}")
            return None

    def _start(self, submit: Submit, update: Update) -> None:
        """Send it; `update` (its number given here, the newest) follows its answers."""
        self.sent_settings = dict(submit.settings)
        self._seq += 1
        update.seq = self._seq
        self._updates[self.link.start_job(submit.to_message(), self)] = update

    def _cancel_refine(self) -> None:
        for handle, update in list(self._updates.items()):
            if update.refine:
                self.counters.refines_cancelled += 1
                self._cancel(handle, update)

    def _newest(self) -> Update | None:
        return max(self._updates.values(), key=lambda u: u.seq, default=None)

    # -- the daemon's answers (jobs.JobListener) ------------------------------------------

    def job_accepted(self, handle: JobHandle, position: int) -> None:
        update = self._updates.get(handle)
        if update is None:
            return
        update.job_id = handle.job
        if update.cancel_on_accept and handle.job is not None:
            self.link.cancel(handle.job)
            self._drop(handle)

    def job_refused(self, handle: JobHandle, text: str) -> None:
        update = self._updates.pop(handle, None)
        if update is None:
            return
        self.counters.refused += 1
        # A replacement of a job that ended meanwhile is refused (unknown_job): the state is
        # sent again, as a plain update, at the next tick.
        self._seen = None
        if "unknown_job" not in text and "replace" not in text:
            self._say(f"live: the daemon refused the update: {text}")

    def job_event(self, handle: JobHandle, event: Event) -> None:
        update = self._updates.get(handle)
        if update is None:
            return
        if isinstance(event, (Preview, Result)):
            self._show(update, event.image)
        elif isinstance(event, Progress) and update.refine and event.total:
            self._say(f"live: refining, {event.iteration}/{event.total}")
        if isinstance(event, (Result, Cancelled, RemoteError)):
            self._updates.pop(handle, None)
        if isinstance(event, RemoteError):
            self._say(f"live: the update failed: {event}")

    def _show(self, update: Update, image: Pixels) -> None:
        # A refine's pictures come one after another under one number, each further along.
        if update.seq < self._shown_seq or (update.seq == self._shown_seq and not update.refine):
            if update.seq < self._shown_seq:
                self.counters.stale += 1
            return
        if image.layout != "BGRA" or image.dtype != "u8":
            self._say(f"live: the daemon sent {image.layout} {image.dtype}, not BGRA u8")
            return
        self._shown_seq = update.seq
        self._shown = (update, self.clock())
        self.picture = LivePicture(
            update.seq, image, update.target, update.digest, update.name, update.refine
        )
        self.counters.shown += 1
        self.counters.shown_seqs.append(update.seq)
        self._say(f"live: {image.width}x{image.height} px")
        self.on_picture(self.picture)

    # -- helpers --------------------------------------------------------------------------

    def _cancel_all(self) -> None:
        for handle, update in list(self._updates.items()):
            self._cancel(handle, update)

    def _cancel(self, handle: JobHandle, update: Update) -> None:
        if update.job_id is not None:
            self.link.cancel(update.job_id)
            self._drop(handle)
        else:  # its `accepted` is on its way: cancelled when it comes
            update.cancel_on_accept = True

    def _drop(self, handle: JobHandle) -> None:
        self._updates.pop(handle, None)
        self.link.jobs.forget(handle)

    def _say(self, text: str) -> None:
        if text != self.status:
            self.status = text
            self.on_status(text)
