"""The messages of SPEC.md as dataclasses: the requests (built by clients, parsed by the daemon)
here, the job events (built by the daemon, parsed by clients) in events.py and importable from
here too. Parsing checks every field and raises a ProtocolError naming the first bad one;
unknown fields are ignored, as SPEC.md requires."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import fields as F
from .codec import Message, new_id
from .constants import (
    CANCEL,
    E_INVALID_FIELD,
    E_MISSING_FIELD,
    E_TOO_LARGE,
    ESTIMATE,
    HELLO,
    MAX_FRAMES,
    PING,
    PRESETS,
    SHUTDOWN,
    STATUS,
    SUBMIT,
    TRAIN,
    VERSION,
    WATCH,
)
from .errors import ProtocolError
from .events import (  # the job events, with the requests: every message of SPEC.md here
    Cancelled,
    ClipDone,
    FrameDone,
    JobEvent,
    Preview,
    Progress,
    Result,
    error,
    job_event,
    remote_error,
)
from .pixels import (
    DTYPES,
    DataFrames,
    Pixels,
    check_all_described,
    pixels_from_descriptor,
    read_pixels,
)

RESULT_LAYOUTS = ("RGB", "RGBA", "BGR", "BGRA")
MAX_PRIORITY = 10
# The defaults of a job's options (SPEC.md section 6), for a submit's and a train's alike; the
# daemon's job records take theirs from here too.
PROGRESS_EVERY = 10  # iterations (or training steps) between progress events
PREVIEW_EVERY = 0  # iterations between previews (0: none)
PREVIEW_SIZE = 512  # longer side of previews, at most
MAX_LABEL = 200  # characters of a job's label


# The fields every queued job has, a submit's and (1.6) a train's alike.
JOB_OPTIONS = ("priority", "progress_every", "preview_every", "preview_size", "detach", "label")


def job_options_to_wire(job: Any) -> dict[str, Any]:
    return {name: getattr(job, name) for name in JOB_OPTIONS}


def job_options_from_wire(b: dict[str, Any]) -> dict[str, Any]:
    """JOB_OPTIONS read from a request's body, each checked (defaults as SPEC.md states)."""
    return {
        "priority": F.integer(b, "priority", 0, -MAX_PRIORITY, MAX_PRIORITY),
        "progress_every": F.integer(b, "progress_every", PROGRESS_EVERY, 1, 1_000_000),
        "preview_every": F.integer(b, "preview_every", PREVIEW_EVERY, 0, 1_000_000),
        "preview_size": F.integer(b, "preview_size", PREVIEW_SIZE, 16, 65535),
        "detach": F.boolean(b, "detach"),
        "label": F.text(b, "label", "", max_length=MAX_LABEL),
    }


@dataclass
class Submit:
    """A stylization job. `settings` holds StyleSettings fields by name (see hello_reply's
    `defaults`); the daemon checks them, this package only checks the envelope around them.

    With `inputs_from` (1.3) the content, styles and mask are those of that earlier job, and
    this submit sends none of them (content None, styles empty): a strength change then
    sends only settings."""

    content: Pixels | None
    styles: list[Pixels]
    settings: dict[str, Any] = field(default_factory=dict)
    mask: Pixels | None = None
    init_image: Pixels | None = None
    init_job: str | None = None  # warm start from that job's result (or its last image)
    replace: str | None = None  # cancel this job of ours and run the new one at once
    priority: int = 0  # -10..10, higher first
    progress_every: int = PROGRESS_EVERY
    preview_every: int = PREVIEW_EVERY
    preview_size: int = PREVIEW_SIZE
    detach: bool = False  # keep running when this client goes away
    label: str = ""
    result_layout: str | None = None  # default: RGBA when the content has alpha, else RGB
    result_dtype: str = "u8"  # sample type of the result: u8, u16 or f32 (previews are u8)
    inputs_from: str | None = None  # take content, styles and mask from that job of ours
    time_budget: float | None = None  # seconds; then the current image is the result

    def to_message(self, mid: str | None = None) -> Message:
        data = DataFrames()
        put = data.put

        body: dict[str, Any] = {} if self.content is None else {"content": put(self.content)}
        body |= {
            "styles": [put(s) for s in self.styles],
            "settings": self.settings,
            **job_options_to_wire(self),
        }
        if self.mask is not None:
            body["mask"] = put(self.mask)
        if self.init_image is not None:
            body["init_image"] = put(self.init_image)
        for name in ("init_job", "replace", "result_layout", "time_budget", "inputs_from"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        if self.result_dtype != "u8":  # (sent only when asked for: a 1.2 daemon ignores it)
            body["result_dtype"] = self.result_dtype
        return Message(SUBMIT, mid or new_id(), body, frames=data.frames)

    @classmethod
    def from_message(cls, msg: Message) -> Submit:
        b, frames, used = msg.body, msg.frames, set[int]()
        inputs_from = F.job_id(b, "inputs_from")
        content = read_pixels(b, "content", frames, used)
        style_descs = F.array(b, "styles", required=inputs_from is None)
        settings = F.mapping(b, "settings")
        _check_inputs(b, inputs_from, content is not None, bool(style_descs), settings)
        if len(style_descs) > MAX_FRAMES:
            raise ProtocolError(E_TOO_LARGE, f"at most {MAX_FRAMES} style images", "styles")
        styles = [
            pixels_from_descriptor(d, frames, used, f"styles[{i}]")
            for i, d in enumerate(style_descs)
        ]
        mask = read_pixels(b, "mask", frames, used)
        if mask is not None and mask.layout != "L":
            raise ProtocolError(E_INVALID_FIELD, "a mask has layout L (one channel)", "mask")
        init_image = read_pixels(b, "init_image", frames, used)
        check_all_described(frames, used)
        submit = cls(
            content=content,
            styles=styles,
            settings=settings,
            mask=mask,
            init_image=init_image,
            init_job=F.job_id(b, "init_job"),
            replace=F.job_id(b, "replace"),
            **job_options_from_wire(b),
            result_layout=F.text(b, "result_layout", choices=RESULT_LAYOUTS),
            result_dtype=F.text(b, "result_dtype", "u8", choices=tuple(DTYPES)),  # type: ignore[arg-type]
            inputs_from=inputs_from,
            time_budget=F.number(b, "time_budget", None, 0.001, 7 * 86400),
        )
        if init_image is not None and submit.init_job is not None:
            raise ProtocolError(
                E_INVALID_FIELD, "give init_image or init_job, not both", "init_job"
            )
        for key in submit.settings:
            if not isinstance(key, str):
                raise ProtocolError(E_INVALID_FIELD, "setting names are strings", "settings")
        return submit


def _check_inputs(
    b: dict[str, Any], inputs_from: str | None, content: bool, styles: bool, settings: Any
) -> None:
    """A submit's images: its own content and a style (an image, presets or trained styles),
    or with `inputs_from` (1.3) none of its own."""
    if inputs_from is not None:
        given = [k for k in ("content", "mask") if b.get(k) is not None] or (
            ["styles"] if styles else []
        )
        if given:
            raise ProtocolError(
                E_INVALID_FIELD,
                f"inputs_from takes that job's images; this submit sends {given[0]} too",
                "inputs_from",
            )
        return
    if not content:
        raise ProtocolError(E_MISSING_FIELD, "this field is required", "content")
    require_a_style(styles, settings)


def require_a_style(images: bool, settings: dict[str, Any]) -> None:
    """A job paints with a style: an image, or a built-in or trained style its settings name
    (a submit's and a clip's alike)."""
    if not images and not (settings.get("presets") or settings.get("trained")):
        raise ProtocolError(
            E_INVALID_FIELD,
            "at least one style image (or settings.presets, settings.trained) is needed",
            "styles",
        )


def hello(client: str, mid: str | None = None) -> Message:
    return Message(HELLO, mid or new_id(), {"client": client, "version": list(VERSION)})


def watch(job: str, mid: str | None = None) -> Message:
    return Message(WATCH, mid or new_id(), job=job)


def cancel(job: str, mid: str | None = None) -> Message:
    return Message(CANCEL, mid or new_id(), job=job)


def status(job: str | None = None, mid: str | None = None) -> Message:
    return Message(STATUS, mid or new_id(), job=job)


def ping(payload: list[Any] | None = None, mid: str | None = None) -> Message:
    return Message(PING, mid or new_id(), frames=list(payload or []))


def shutdown(mid: str | None = None) -> Message:
    return Message(SHUTDOWN, mid or new_id())


def presets(mid: str | None = None) -> Message:
    return Message(PRESETS, mid or new_id())


@dataclass(frozen=True)
class EstimateRequest:
    """A job described without its pixels (1.4): the content's size, the style count and the
    settings a submit would carry."""

    width: int
    height: int
    settings: dict[str, Any] = field(default_factory=dict)
    styles: int = 1
    warm_start: bool = False

    def to_message(self, mid: str | None = None) -> Message:
        body = {
            "width": self.width,
            "height": self.height,
            "settings": dict(self.settings),
            "styles": self.styles,
            "warm_start": self.warm_start,
        }
        return Message(ESTIMATE, mid or new_id(), body)

    @classmethod
    def from_message(cls, msg: Message, max_styles: int) -> EstimateRequest:
        body = msg.body
        return cls(
            width=F.integer(body, "width", lo=1, required=True) or 1,
            height=F.integer(body, "height", lo=1, required=True) or 1,
            settings=F.mapping(body, "settings"),
            styles=F.integer(body, "styles", 1, lo=0, hi=max_styles) or 0,
            warm_start=F.boolean(body, "warm_start"),
        )


def swatches_from(reply: Message) -> list[Pixels]:
    """The swatches of a presets_reply, in preset order, checked like any pixel frames."""
    used: set[int] = set()
    descs = F.array(reply.body, "swatches")
    return [
        pixels_from_descriptor(d, reply.frames, used, f"swatches[{i}]") for i, d in enumerate(descs)
    ]


@dataclass(frozen=True)
class TrainedStyleInfo:
    """A trained style of the daemon's library (1.5), as presets_reply lists it: a submit
    names it in `settings.trained`."""

    name: str
    kind: str  # "fast" (trained norms of the instant network) or "scratch" (its own network)
    steps: int | None
    loss: float | None
    swatch: Pixels


def trained_from(reply: Message) -> list[TrainedStyleInfo]:
    """The trained styles of a presets_reply (empty from a daemon older than 1.5)."""
    used: set[int] = set()
    found = []
    for i, entry in enumerate(F.array(reply.body, "trained_styles")):
        where = f"trained_styles[{i}]"
        if not isinstance(entry, dict):
            raise ProtocolError(E_INVALID_FIELD, f"{where} is not a map", where)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ProtocolError(E_INVALID_FIELD, f"{where}.name is not a name", f"{where}.name")
        steps, loss = entry.get("steps"), entry.get("loss")
        if isinstance(loss, bool) or not isinstance(loss, (int, float)):
            loss = None
        found.append(
            TrainedStyleInfo(
                name,
                str(entry.get("kind") or ""),
                steps if isinstance(steps, int) and not isinstance(steps, bool) else None,
                None if loss is None else float(loss),
                pixels_from_descriptor(entry.get("swatch"), reply.frames, used, f"{where}.swatch"),
            )
        )
    return found


MAX_TRAIN_PHOTOS = 16  # a train request's own photos, beside the daemon's default ones
MAX_NAME_LENGTH = 64
NAME_PUNCTUATION = frozenset(" _-.,+()&'")


def style_name_problem(name: str) -> str | None:
    """Why `name` cannot name a trained style (it becomes a file name in the daemon's
    library), or None. Letters and digits of any script, and a little punctuation."""
    if not name:
        return "a trained style's name is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"a trained style's name has at most {MAX_NAME_LENGTH} characters"
    if not name[0].isalnum():
        return f"a trained style's name starts with a letter or a digit: {name!r}"
    odd = sorted({c for c in name if not c.isalnum() and c not in NAME_PUNCTUATION})
    if odd:
        allowed = "letters, digits, spaces and _-.,+()&'"
        return f"{odd[0]!r} cannot be in a trained style's name ({allowed})"
    if name.endswith(".style") or name.endswith(" "):
        return f"a trained style's name ends without '.style' or a space: {name!r}"
    return None


def style_name_from(text: str) -> str:
    """A valid trained style's name made from `text` (a file's or a layer's name, for a
    plug-in's Train button): other characters become '_', it begins at its first letter or
    digit, is cut to the length allowed and ends without a space or '.style'."""
    name = "".join(c if c.isalnum() or c in NAME_PUNCTUATION else "_" for c in text)
    name = name.lstrip("".join(NAME_PUNCTUATION))[:MAX_NAME_LENGTH]
    while name != (trimmed := name.rstrip().removesuffix(".style")):
        name = trimmed
    return name or "style"


@dataclass
class Train:
    """A training job (1.6): the daemon trains a network for `style` on crops of its default
    photos (and `photos`) and writes it to its library as the trained style `name`, which a
    submit then names in `settings.trained`. `settings` holds the training's settings by name
    (hello_reply's `train_defaults`)."""

    style: Pixels
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    photos: list[Pixels] = field(default_factory=list)
    only_photos: bool = False  # train on `photos` alone
    validation: Pixels | None = None  # the picture previews and the result show
    overwrite: bool = False  # replace a trained style of that name
    restart: bool = False  # ignore a checkpoint of that name's; start over
    priority: int = 0
    progress_every: int = PROGRESS_EVERY  # steps between progress events
    preview_every: int = PREVIEW_EVERY  # steps between previews of the validation picture
    preview_size: int = PREVIEW_SIZE
    detach: bool = False
    label: str = ""

    def to_message(self, mid: str | None = None) -> Message:
        data = DataFrames()
        put = data.put

        body: dict[str, Any] = {
            "style": put(self.style),
            "name": self.name,
            "settings": dict(self.settings),
            "photos": [put(p) for p in self.photos],
            "only_photos": self.only_photos,
            "overwrite": self.overwrite,
            "restart": self.restart,
            **job_options_to_wire(self),
        }
        if self.validation is not None:
            body["validation"] = put(self.validation)
        return Message(TRAIN, mid or new_id(), body, frames=data.frames)

    @classmethod
    def from_message(cls, msg: Message) -> Train:
        b, frames, used = msg.body, msg.frames, set[int]()
        style = read_pixels(b, "style", frames, used)
        if style is None:
            raise ProtocolError(E_MISSING_FIELD, "this field is required", "style")
        name = F.text(b, "name", required=True, max_length=MAX_NAME_LENGTH) or ""
        problem = style_name_problem(name)
        if problem is not None:
            raise ProtocolError(E_INVALID_FIELD, problem, "name")
        descs = F.array(b, "photos")
        if len(descs) > MAX_TRAIN_PHOTOS:
            raise ProtocolError(E_TOO_LARGE, f"at most {MAX_TRAIN_PHOTOS} photos", "photos")
        photos = [
            pixels_from_descriptor(d, frames, used, f"photos[{i}]") for i, d in enumerate(descs)
        ]
        validation = read_pixels(b, "validation", frames, used)
        check_all_described(frames, used)
        train = cls(
            style=style,
            name=name,
            settings=F.mapping(b, "settings"),
            photos=photos,
            only_photos=F.boolean(b, "only_photos"),
            validation=validation,
            overwrite=F.boolean(b, "overwrite"),
            restart=F.boolean(b, "restart"),
            **job_options_from_wire(b),
        )
        if train.only_photos and not photos:
            raise ProtocolError(E_INVALID_FIELD, "only_photos needs photos", "only_photos")
        for key in train.settings:
            if not isinstance(key, str):
                raise ProtocolError(E_INVALID_FIELD, "setting names are strings", "settings")
        return train


def require_job(msg: Message) -> str:
    if msg.job is None:
        raise ProtocolError(E_MISSING_FIELD, f"{msg.type} needs the header's 'job'", "job")
    return msg.job


__all__ = [  # the events' names, which callers import from here with the requests'
    "Cancelled",
    "ClipDone",
    "FrameDone",
    "JobEvent",
    "Preview",
    "Progress",
    "Result",
    "error",
    "job_event",
    "remote_error",
]
