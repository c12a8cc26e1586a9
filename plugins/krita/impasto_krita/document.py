"""Everything this plug-in asks of Krita's document API, in one small module.

Facts checked in Krita 5.1.5 (see README.md): `pixelData` of an 8- or 16-bit RGBA layer is
Blue, Green, Red, Alpha (little-endian samples), of a grayscale layer Gray, Alpha, of a float
layer Red, Green, Blue, Alpha; alpha is straight. Krita gives 16-bit and float images a linear
(gamma 1.0) profile by default, which the engine, trained on sRGB-encoded photos, must not see
as-is. Adding a node through the API is one undo step; `setPixelData` and `setName` add none;
removing it is another step. A moment after a node is added (on the event loop, not at once)
Krita makes it the active layer.

KritaDocument is the model's Document (host.py) on this API: one open image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from impasto_protocol import Pixels
from impasto_protocol.region import Region
from krita import Krita

from . import imaging
from .host import HostError, Target
from .qt import QTimer, QWidget

log = logging.getLogger(__name__)

SRGB_8 = ("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")
ACTIVATION_DELAY_MS = 250


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


def _target(doc: Any, selection_only: bool) -> Target:
    node = doc.activeNode()
    if node is None:
        raise HostError("select the layer to stylize")
    if node.type() not in ("paintlayer", "grouplayer", "filelayer", "clonelayer"):
        raise HostError(f"{node.name()!r} is a {node.type()}: select a paint layer")
    fmt = layer_format(node)
    sel = doc.selection() if selection_only else None
    area = _area(doc, sel)
    source, name = node_id(node), node.name()
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return Target(source, name, area, None, fmt.result_dtype, fmt)
    mask = bytes(sel.pixelData(area.x, area.y, area.width, area.height))
    if not any(mask):
        raise HostError("the selection is empty")
    return Target(source, name, area, mask, fmt.result_dtype, fmt)


def _target_size(doc: Any, selection_only: bool) -> tuple[int, int] | None:
    if doc.activeNode() is None:
        return None
    try:
        area = _area(doc, doc.selection() if selection_only else None)
    except HostError:
        return None
    return area.size


def _area(doc: Any, sel: Any) -> Region:
    """The document, or the selection's bounds with some context around them."""
    image = Region.whole(doc.width(), doc.height())
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return image
    area = Region(sel.x(), sel.y(), sel.width(), sel.height()).around(image)
    if area.empty:
        raise HostError("the selection lies outside the image")
    return area


def _index_path(node: Any) -> list[int]:
    path: list[int] = []
    while True:
        parent = node.parentNode()
        if parent is None:
            return path[::-1]
        siblings = parent.childNodes()
        path.append(next(i for i, n in enumerate(siblings) if n.uniqueId() == node.uniqueId()))
        node = parent


def read_pixels(doc: Any, node: Any, rect: Region, fmt: Format) -> Pixels:
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
    return read_pixels(doc, node, Region(b.x(), b.y(), b.width(), b.height()), layer_format(node))


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


REVISION_SIDE = 8  # the thumbnail whose cache key tells live mode whether pixels changed


class KritaDocument:
    """The model's Document (host.py) for one open Krita image. Nodes are known by their
    unique ids; the ones a job uses (its source and result layer) are kept here."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self._nodes: dict[str, Any] = {}

    @classmethod
    def active(cls) -> KritaDocument | None:
        doc = Krita.instance().activeDocument()
        return None if doc is None else cls(doc)

    def is_open(self) -> bool:
        return is_open(self.doc)

    def target(self, selection_only: bool) -> Target:
        target = _target(self.doc, selection_only)
        self._nodes[target.source] = self.doc.activeNode()
        return target

    def target_size(self, selection_only: bool) -> tuple[int, int] | None:
        return _target_size(self.doc, selection_only)

    def read_pixels(self, target: Target) -> Pixels:
        return read_pixels(self.doc, self._nodes[target.source], target.area, target.format)

    def revision(self, target: Target, canvas: bool) -> int:
        """A number that changes whenever the target's layer (or, for the canvas, the merged
        image) may have changed, for live mode to skip reading unchanged pixels. Krita keeps a
        paint device's thumbnails until the device changes, and a kept QImage comes back with
        the same cacheKey(): an 8x8 thumbnail's key is such a number, costing nothing while
        nothing changes (after a change, one 8x8 thumbnail is computed)."""
        node = self.doc.rootNode() if canvas else self._nodes[target.source]
        return int(node.thumbnail(REVISION_SIDE, REVISION_SIDE).cacheKey())

    def read_canvas(self, target: Target) -> Pixels:
        """The visible canvas (Krita's projection: every visible layer merged) in the
        target's area, for live mode; 8-bit RGBA images only."""
        if (self.doc.colorModel(), self.doc.colorDepth()) != ("RGBA", "U8"):
            raise HostError("live on the canvas needs an 8-bit RGBA image: choose Layer")
        a = target.area
        data = bytes(self.doc.pixelData(a.x, a.y, a.width, a.height))
        return Pixels(a.width, a.height, data, "BGRA", "u8")

    def style_layers(self) -> list[str]:
        return [name for name, _node in style_layers(self.doc)]

    def read_style_layer(self, name: str) -> Pixels | None:
        node = dict(style_layers(self.doc)).get(name)
        return None if node is None else read_style_layer(self.doc, node)

    def add_result_layer(self, target: Target, name: str, above: frozenset[str]) -> str:
        layer = create_result_layer(
            self.doc, self._nodes[target.source], target.format, name, above
        )
        self._nodes[node_id(layer)] = layer
        return node_id(layer)

    def write_result(self, target: Target, layer: str, bgra: bytes, dtype: str) -> None:
        """Put BGRA pixels of `dtype` (u8 for previews, the format's result_dtype for the
        result; the size of the target's area) into the result layer, in its own format."""
        area, fmt = target.area, target.format
        data = bgra
        if fmt.native and fmt.layout == "LA":
            data = imaging.gray_alpha(bgra, area.width, area.height, dtype)
        if fmt.native and fmt.dtype == "u16" and dtype == "u8":
            data = imaging.widen_to_u16(data)
        self._nodes[layer].setPixelData(data, area.x, area.y, area.width, area.height)
        self.doc.refreshProjection()

    def rename_layer(self, layer: str, name: str) -> None:
        self._nodes[layer].setName(name)

    def remove_result_layer(self, target: Target, layer: str) -> None:
        discard_layer(self.doc, self._nodes[target.source], self._nodes[layer])

    def lock_layer(self, layer: str, locked: bool) -> None:
        self._nodes[layer].setLocked(locked)

    def keep_source_active(self, target: Target, layer: str) -> None:
        keep_source_active(self.doc, self._nodes[target.source], self._nodes[layer])


def create_result_layer(
    doc: Any, source: Any, fmt: Format, name: str, earlier: frozenset[str] = frozenset()
) -> Any:
    """A new paint layer above the source: the one undo step that removes the result. It goes
    above the `earlier` results (unique ids) that sit right above the source, so that a second
    job on the same layer is seen, not hidden under the first one's opaque result."""
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
    wanted = (fmt.model, fmt.depth, fmt.profile) if fmt.native else SRGB_8
    have = (layer.colorModel(), layer.colorDepth(), layer.colorProfile())
    if have != wanted and not layer.setColorSpace(*wanted):
        layer.remove()
        raise HostError(f"Krita could not make a {' '.join(wanted[:2])} result layer")
    return layer


def discard_layer(doc: Any, source: Any, layer: Any) -> None:
    """Take an unfinished result layer away and leave the undo history as it was before the
    job: undo its "Add Layer" step when that is the latest one. When it is not (the user did
    something since, or another image is active), that undo is redone and the layer removed
    (one "Remove Layer" step that brings it back)."""
    if not is_open(doc):
        return
    krita = Krita.instance()
    others = _node_ids(doc, without=node_id(layer))
    if krita.activeDocument() == doc and _contains(doc, layer):
        krita.action("edit_undo").trigger()
        doc.waitForDone()
        if not _contains(doc, layer) and _node_ids(doc) == others:
            _activate(doc, source)
            doc.refreshProjection()
            return
        krita.action("edit_redo").trigger()  # it undid something else: put that back
        doc.waitForDone()
    if _contains(doc, layer):
        layer.remove()
    _activate(doc, source)
    doc.refreshProjection()


def keep_source_active(doc: Any, source: Any, layer: Any, later: bool = False) -> None:
    """Krita makes a new layer the active one a moment after adding it: a stroke made while
    the job runs would land on the preview layer, and Start again would stylize the result.
    Make the source active again (at the start, at each picture and at the result), unless
    the user chose another layer meanwhile."""
    active = doc.activeNode() if is_open(doc) else None
    if active is not None and node_id(active) == node_id(layer):
        _activate(doc, source)
    elif not later:  # Krita activates a new layer a moment after adding it: look again then
        QTimer.singleShot(ACTIVATION_DELAY_MS, lambda: keep_source_active(doc, source, layer, True))


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


def canvas() -> Any:
    """The active view's canvas widget (its controller, whose focus proxy the canvas is),
    where the docker hands the keyboard back; None when no image is shown."""
    window = Krita.instance().activeWindow()
    if window is None:
        return None
    for widget in window.qwindow().findChildren(QWidget):
        if widget.metaObject().className() == "KisCanvasController" and widget.isVisible():
            return widget
    return None


def krita_setting(key: str, default: str = "") -> str:
    return str(Krita.instance().readSetting("impasto", key, default))


def save_krita_setting(key: str, value: str) -> None:
    Krita.instance().writeSetting("impasto", key, value)


def on_document_closed(callback: Any) -> None:
    """Call `callback()` whenever Krita closes a document (the signal names only its file)."""
    Krita.instance().notifier().imageClosed.connect(lambda _name: callback())
