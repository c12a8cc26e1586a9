"""Everything this plug-in asks of Krita's document API, in one small module.

Facts checked in Krita 5.1.5 (see README.md): `pixelData` of an 8- or 16-bit RGBA layer is
Blue, Green, Red, Alpha (little-endian samples), of a grayscale layer Gray, Alpha, of a float
layer Red, Green, Blue, Alpha; alpha is straight. Krita gives 16-bit and float images a linear
(gamma 1.0) profile by default, which the engine, trained on sRGB-encoded photos, must not see
as-is. Adding a node through the API is one undo step; `setPixelData` and `setName` add none;
removing it is another step. A moment after a node is added (on the event loop, not at once)
Krita makes it the active layer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from impasto_protocol import Pixels, policy
from krita import Krita

from . import imaging
from .qt import QTimer

log = logging.getLogger(__name__)

SRGB_8 = ("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")
ACTIVATION_DELAY_MS = 250


class HostError(Exception):
    """Something about the open image that stops a job; the message is one line for the user."""


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Format:
    """How a layer's pixels travel. Native: as Krita stores them (8/16-bit RGBA as BGRA,
    grayscale as LA). Otherwise: through a temporary copy of the image that Krita converts to
    8-bit sRGB, and the result layer is 8-bit sRGB too (Krita converts it for display)."""

    layout: str
    dtype: str
    native: bool
    model: str
    depth: str
    profile: str

    @property
    def result_dtype(self) -> str:
        """The sample type results are asked in: a 16-bit layer's own (RGBA or grey), so it
        gets 16-bit levels back; a converted layer's, 8 bits, like the copy it was sent from."""
        return "u16" if self.native and self.dtype == "u16" else "u8"


def _is_linear(profile: str) -> bool:
    name = profile.lower()
    return "g10" in name or "linear" in name


def layer_format(node: Any) -> Format:
    model, depth, profile = node.colorModel(), node.colorDepth(), node.colorProfile()
    if model not in ("RGBA", "GRAYA"):
        raise HostError(
            f"the layer {node.name()!r} is {model} {depth}: Impasto works on RGB and grayscale "
            "layers (Image > Convert Image Color Space)"
        )
    if depth in ("U8", "U16") and not _is_linear(profile):
        layout = "BGRA" if model == "RGBA" else "LA"
        return Format(layout, "u8" if depth == "U8" else "u16", True, model, depth, profile)
    if depth in ("U8", "U16", "F16", "F32"):
        return Format("BGRA", "u8", False, model, depth, profile)
    raise HostError(f"the layer {node.name()!r} has an unknown bit depth {depth}")


@dataclass
class Target:
    """What a job works on: the source layer, the area sent, and the selection inside it."""

    document: Any
    node: Any
    area: Rect
    format: Format
    selection: bytes | None  # one byte per pixel of `area`; None: the whole area


def active_target(selection_only: bool) -> Target:
    krita = Krita.instance()
    doc = krita.activeDocument()
    if doc is None:
        raise HostError("open an image first")
    node = doc.activeNode()
    if node is None:
        raise HostError("select the layer to stylize")
    if node.type() not in ("paintlayer", "grouplayer", "filelayer", "clonelayer"):
        raise HostError(f"{node.name()!r} is a {node.type()}: select a paint layer")
    fmt = layer_format(node)
    sel = doc.selection() if selection_only else None
    area = _area(doc, sel)
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return Target(doc, node, area, fmt, None)
    mask = bytes(sel.pixelData(area.x, area.y, area.width, area.height))
    if not any(mask):
        raise HostError("the selection is empty")
    return Target(doc, node, area, fmt, mask)


def target_size(selection_only: bool) -> tuple[int, int] | None:
    """The size of the area a job would stylize now, without reading any pixels (for the
    estimate shown before Start); None when there is nothing to stylize."""
    doc = Krita.instance().activeDocument()
    if doc is None or doc.activeNode() is None:
        return None
    try:
        area = _area(doc, doc.selection() if selection_only else None)
    except HostError:
        return None
    return area.width, area.height


def _area(doc: Any, sel: Any) -> Rect:
    """The document, or the selection's bounds with some context around them."""
    image = Rect(0, 0, doc.width(), doc.height())
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return image
    pad = policy.context_padding(sel.width(), sel.height())
    x0, y0 = max(0, sel.x() - pad), max(0, sel.y() - pad)
    x1 = min(image.width, sel.x() + sel.width() + pad)
    y1 = min(image.height, sel.y() + sel.height() + pad)
    if x1 <= x0 or y1 <= y0:
        raise HostError("the selection lies outside the image")
    return Rect(x0, y0, x1 - x0, y1 - y0)


def _index_path(node: Any) -> list[int]:
    path: list[int] = []
    while True:
        parent = node.parentNode()
        if parent is None:
            return path[::-1]
        siblings = parent.childNodes()
        path.append(next(i for i, n in enumerate(siblings) if n.uniqueId() == node.uniqueId()))
        node = parent


def read_pixels(doc: Any, node: Any, rect: Rect, fmt: Format) -> Pixels:
    """The layer's pixels in `rect`, in `fmt` (for a non-native layer, 8-bit sRGB as Krita
    converts it: the source layer itself is only read, never converted)."""
    if fmt.native:
        data = bytes(node.pixelData(rect.x, rect.y, rect.width, rect.height))
        return Pixels(rect.width, rect.height, data, fmt.layout, fmt.dtype)
    copy = doc.clone()
    try:
        copy.setBatchmode(True)
        if not copy.setColorSpace(*SRGB_8):
            raise HostError(f"Krita could not convert {fmt.model} {fmt.depth} to 8-bit sRGB")
        copy.waitForDone()
        twin = copy.rootNode()
        for i in _index_path(node):
            twin = twin.childNodes()[i]
        data = bytes(twin.pixelData(rect.x, rect.y, rect.width, rect.height))
    finally:
        copy.close()
    return Pixels(rect.width, rect.height, data, "BGRA", "u8")


def style_layers(doc: Any) -> list[tuple[str, Any]]:
    """(name, node) of every paint layer, depth first, for the style-layer list."""
    out: list[tuple[str, Any]] = []

    def walk(parent: Any) -> None:
        for child in parent.childNodes():
            if child.type() == "paintlayer":
                out.append((child.name(), child))
            walk(child)

    if doc is not None:
        walk(doc.rootNode())
    return out


def read_style_layer(doc: Any, node: Any) -> Pixels:
    b = node.bounds()
    if b.width() <= 0 or b.height() <= 0:
        raise HostError(f"the style layer {node.name()!r} is empty")
    return read_pixels(doc, node, Rect(b.x(), b.y(), b.width(), b.height()), layer_format(node))


def active_document() -> Any:
    return Krita.instance().activeDocument()


def is_open(doc: Any) -> bool:
    return doc is not None and doc in Krita.instance().documents()


def describe_target(selection_only: bool) -> str:
    """Which layer (and which part of it) Start would stylize now, for the docker; "" when
    there is nothing to stylize."""
    doc = Krita.instance().activeDocument()
    node = doc.activeNode() if doc is not None else None
    if node is None:
        return ""
    sel = doc.selection() if selection_only else None
    if sel is not None and sel.width() > 0 and sel.height() > 0:
        return f"{node.name()}, the {sel.width()}x{sel.height()} selection"
    return f"{node.name()}, {doc.width()}x{doc.height()}"


def create_result_layer(target: Target, name: str, earlier: frozenset[str] = frozenset()) -> Any:
    """A new paint layer above the source: the one undo step that removes the result. It goes
    above the `earlier` results (unique ids) that sit right above the source, so that a second
    job on the same layer is seen, not hidden under the first one's opaque result."""
    doc, source = target.document, target.node
    layer = doc.createNode(name, "paintlayer")
    parent = source.parentNode() or doc.rootNode()
    below = source
    siblings = parent.childNodes()  # bottom first
    ids = [node_id(n) for n in siblings]
    i = ids.index(node_id(source))
    while i + 1 < len(siblings) and ids[i + 1] in earlier:
        i += 1
        below = siblings[i]
    parent.addChildNode(layer, below)
    fmt = target.format
    wanted = (fmt.model, fmt.depth, fmt.profile) if fmt.native else SRGB_8
    have = (layer.colorModel(), layer.colorDepth(), layer.colorProfile())
    if have != wanted and not layer.setColorSpace(*wanted):
        layer.remove()
        raise HostError(f"Krita could not make a {' '.join(wanted[:2])} result layer")
    return layer


def write_result(target: Target, layer: Any, bgra: bytes, dtype: str) -> None:
    """Put BGRA pixels of `dtype` (u8 for previews, the format's result_dtype for the result;
    the size of the target's area) into the result layer, in the layer's own format."""
    area, fmt = target.area, target.format
    data = bgra
    if fmt.native and fmt.layout == "LA":
        data = imaging.gray_alpha(bgra, area.width, area.height, dtype)
    if fmt.native and fmt.dtype == "u16" and dtype == "u8":
        data = imaging.widen_to_u16(data)
    layer.setPixelData(data, area.x, area.y, area.width, area.height)
    target.document.refreshProjection()


def rename(layer: Any, name: str) -> None:
    layer.setName(name)


def discard_layer(target: Target, layer: Any) -> None:
    """Take an unfinished result layer away and leave the undo history as it was before the
    job: undo its "Add Layer" step when that is the latest one. When it is not (the user did
    something since, or another image is active), that undo is redone and the layer removed
    (one "Remove Layer" step that brings it back)."""
    doc = target.document
    if not is_open(doc):
        return
    krita = Krita.instance()
    others = _node_ids(doc, without=node_id(layer))
    if krita.activeDocument() == doc and _contains(doc, layer):
        krita.action("edit_undo").trigger()
        doc.waitForDone()
        if not _contains(doc, layer) and _node_ids(doc) == others:
            _activate(doc, target.node)
            doc.refreshProjection()
            return
        krita.action("edit_redo").trigger()  # it undid something else: put that back
        doc.waitForDone()
    if _contains(doc, layer):
        layer.remove()
    _activate(doc, target.node)
    doc.refreshProjection()


def keep_source_active(target: Target, layer: Any, later: bool = False) -> None:
    """After a result lands Krita has made it the active layer, so Start again would stylize
    the result: make the source active again, unless the user chose another layer meanwhile."""
    doc = target.document
    active = doc.activeNode() if is_open(doc) else None
    if active is not None and node_id(active) == node_id(layer):
        _activate(doc, target.node)
    elif not later:  # Krita activates a new layer a moment after adding it: look again then
        QTimer.singleShot(ACTIVATION_DELAY_MS, lambda: keep_source_active(target, layer, True))


def _activate(doc: Any, node: Any) -> None:
    if _contains(doc, node):
        doc.setActiveNode(node)


def node_id(node: Any) -> str:
    """A node's unique id as a string (its QUuid is not a dict key in every PyQt)."""
    return str(node.uniqueId().toString())


def _node_ids(doc: Any, without: str = "") -> list[str]:
    out: list[str] = []

    def walk(parent: Any) -> None:
        for child in parent.childNodes():
            if node_id(child) != without:
                out.append(node_id(child))
            walk(child)

    walk(doc.rootNode())
    return out


def _contains(doc: Any, node: Any) -> bool:
    return node_id(node) in _node_ids(doc)


def krita_setting(key: str, default: str = "") -> str:
    return str(Krita.instance().readSetting("impasto", key, default))


def save_krita_setting(key: str, value: str) -> None:
    Krita.instance().writeSetting("impasto", key, value)


def on_document_closed(callback: Any) -> None:
    """Call `callback()` whenever Krita closes a document (the signal names only its file)."""
    Krita.instance().notifier().imageClosed.connect(lambda _name: callback())
