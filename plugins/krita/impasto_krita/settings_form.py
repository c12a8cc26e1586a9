"""The advanced settings, built from the daemon's hello_reply `defaults` and `choices`.

The engine's settings live in one dataclass in the daemon; hello_reply lists each with its
default (and each enum's values), so the form follows the daemon instead of repeating it.
"""

from __future__ import annotations

from typing import Any

from impasto_protocol import policy

from .qt import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
    Signal,
)
from .sizes import QUALITIES

# Set by the docker's own controls (strength, style weights, the mode, the palette, the
# Trained styles list) or by the job itself: a free-text field beside them would only repeat
# them, in the daemon's words.
CONTROLLED = frozenset(
    {"style_weight", "style_blend", "init", "max_pixels", "method", "presets", "preset_blend"}
    | {"trained", "amount"}  # amount: the strength's low half (protocol 1.8)
)
# A painter's settings first, in words; the network's internals after an "expert" heading.
FIRST = ("size", "iterations", "preserve_color", "tv_weight", "content_weight", "style_scale")
FIRST += ("seed",)
LABELS = {
    "size": ("Size", "the longer side the job computes at, in pixels"),
    "iterations": ("Iterations", "more: closer to the style, and longer"),
    "preserve_color": ("Keep colours", "keep the picture's own colours instead of the style's"),
    "tv_weight": ("Smoothness", "0: none; higher: fewer speckles, softer detail"),
    "content_weight": ("Keep the picture", "how much of the picture's shapes the result keeps"),
    "style_scale": ("Brush scale", "the style image's scale: higher paints larger strokes"),
    "seed": ("Seed", "another number, another variation of the same settings"),
    "scales": ("Scales", "coarse-to-fine steps; automatic: as many as the size calls for"),
    "optimizer": ("Optimizer", "L-BFGS converges in fewer iterations; Adam uses less memory"),
    "learning_rate": ("Adam step", "the Adam optimizer's step size"),
    "pooling": ("Pooling", "how the network shrinks its feature maps"),
    "content_layers": ("Content layers", "the VGG19 layers that compare the picture"),
    "content_layer_weights": ("Content layer weights", "one per content layer; empty: equal"),
    "style_layers": ("Style layers", "the VGG19 layers whose textures are matched"),
    "style_layer_weights": ("Style layer weights", "one per style layer; empty: the default"),
}
CHOICE_LABELS = {
    **policy.COLOR_LABELS,
    "lbfgs": "L-BFGS",
    "adam": "Adam",
    "max": "Max",
    "avg": "Average",
}
EXPERT_HEADING = "For experts"
INT_MAX = 2**31 - 1
INT_RANGES = {"size": (0, 65535), "iterations": (1, 100000), "scales": (0, 8)}
LAYER_SIZE = "layer size"  # what the size box shows at 0: the layer's (or selection's) own
AUTOMATIC = "automatic"  # what the scales box shows at 0: as many as the size calls for
SPECIAL_TEXTS = {"size": LAYER_SIZE, "scales": AUTOMATIC}
ADAM_ONLY = ("learning_rate",)  # shown while the optimizer is Adam: L-BFGS has no step size

# The quality presets, by the words both editors show (impasto_protocol.policy decides them).
PRESETS: dict[str, policy.Quality] = QUALITIES
CUSTOM = "Custom"
# A list field (layers, weights): its placeholder is as short as the field is narrow, and its
# tooltip says the rest.
LIST_PLACEHOLDER = "default"
LIST_TIP = "comma-separated; empty for the default"


def _label(name: str) -> str:
    """A setting's name as words (hello_reply names settings the way code does)."""
    known = LABELS.get(name)
    return known[0] if known else name.replace("_", " ").capitalize()


def choice_label(value: str) -> str:
    return CHOICE_LABELS.get(value, value.replace("_", " ").capitalize())


class SettingsForm(QWidget):
    """One widget per setting, named `setting_<name>`; `values()` gives the changed ones.
    `changed` fires on every edit (the docker remembers the values between sessions)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("advanced")
        self._layout = QFormLayout(self)
        self.defaults: dict[str, Any] = {}
        self.widgets: dict[str, QWidget] = {}

    @property
    def built(self) -> bool:
        return bool(self.widgets)

    def build(self, welcome: dict[str, Any]) -> None:
        if self.built:
            return
        self.defaults = dict(welcome.get("defaults") or {})
        choices = welcome.get("choices") or {}
        limits = welcome.get("limits") or {}
        names = [n for n in FIRST if n in self.defaults]
        rest = sorted(n for n in self.defaults if n not in names and n not in CONTROLLED)
        for name in names + rest:
            if name == (rest[0] if rest else None):
                heading = QLabel(EXPERT_HEADING)
                heading.setObjectName("expert_heading")
                self._layout.addRow(heading)
            widget = self._widget(name, self.defaults[name], choices.get(name), limits)
            widget.setObjectName(f"setting_{name}")
            tip = LABELS.get(name, ("", ""))[1]
            if isinstance(widget, QLineEdit):  # what the placeholder has no room to say
                tip = f"{tip}; {LIST_TIP}" if tip else LIST_TIP
            widget.setToolTip(f"{tip} ({name})" if tip else name)
            self._notify(widget)
            self.widgets[name] = widget
            self._layout.addRow(_label(name), widget)
        self._follow_optimizer()

    def _follow_optimizer(self) -> None:
        """Adam's own settings (its step size) show only while Adam is the optimizer."""
        optimizer = self.widgets.get("optimizer")
        if not isinstance(optimizer, QComboBox):
            return
        rows = [self.widgets[n] for n in ADAM_ONLY if n in self.widgets]

        def show(*_: Any) -> None:
            adam = optimizer.currentData() == "adam"
            for widget in rows:
                widget.setVisible(adam)
                label = self._layout.labelForField(widget)
                if label is not None:
                    label.setVisible(adam)

        optimizer.currentIndexChanged.connect(show)
        show()

    def _widget(self, name: str, default: Any, choices: Any, limits: dict[str, Any]) -> QWidget:
        if isinstance(choices, list) and choices:
            combo = QComboBox()
            for choice in choices:  # shown as words, sent as the daemon's value
                combo.addItem(choice_label(str(choice)), str(choice))
            combo.setCurrentIndex(max(0, combo.findData(str(default))))
            return combo
        if isinstance(default, bool):
            box = QCheckBox()
            box.setChecked(default)
            return box
        if isinstance(default, int):
            spin = QSpinBox()
            low, high = INT_RANGES.get(name, (0, INT_MAX))
            if name == "iterations" and isinstance(limits.get("max_iterations"), int):
                high = limits["max_iterations"]
            spin.setRange(low, min(high, INT_MAX))
            spin.setValue(max(low, min(default, INT_MAX)))
            spin.setSpecialValueText(SPECIAL_TEXTS.get(name, ""))
            return spin
        if isinstance(default, float):
            dspin = QDoubleSpinBox()
            dspin.setDecimals(4)
            dspin.setRange(0.0, 1e6)
            dspin.setSingleStep(0.1)
            dspin.setValue(default)
            return dspin
        edit = QLineEdit(", ".join(str(v) for v in default) if isinstance(default, list) else "")
        edit.setPlaceholderText(LIST_PLACEHOLDER)  # (short: a longer one was cut off)
        return edit

    def _notify(self, widget: QWidget) -> None:
        if isinstance(widget, QComboBox):
            widget.currentTextChanged.connect(self._emit_changed)
        elif isinstance(widget, QCheckBox):
            widget.toggled.connect(self._emit_changed)
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            widget.valueChanged.connect(self._emit_changed)
        elif isinstance(widget, QLineEdit):
            widget.editingFinished.connect(self._emit_changed)

    def _emit_changed(self, *_: Any) -> None:
        self.changed.emit()

    def set_value(self, name: str, value: Any) -> None:
        """Show `value` (a preset's or a remembered one); a value of the wrong kind, e.g. from
        an older daemon's settings, is ignored."""
        widget = self.widgets.get(name)
        try:
            if isinstance(widget, QComboBox):
                if widget.findData(str(value)) >= 0:
                    widget.setCurrentIndex(widget.findData(str(value)))
            elif isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QSpinBox):
                widget.setValue(int(value))
            elif isinstance(widget, QDoubleSpinBox):
                widget.setValue(float(value))
            elif isinstance(widget, QLineEdit) and isinstance(value, list):
                widget.setText(", ".join(str(v) for v in value))
        except (TypeError, ValueError):
            pass

    def value(self, name: str) -> Any:
        widget = self.widgets[name]
        default = self.defaults[name]
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            return widget.value()
        if isinstance(widget, QLineEdit):
            parts = [p.strip() for p in widget.text().split(",") if p.strip()]
            numeric = name.endswith("weights") or any(isinstance(v, float) for v in default)
            try:
                return [float(p) for p in parts] if numeric else parts
            except ValueError:
                wrong = widget.text()
                raise ValueError(f"{_label(name)}: expected numbers, got {wrong!r}") from None
        return default

    def values(self) -> dict[str, Any]:
        """Settings that differ from the daemon's defaults, plus size and iterations (which the
        job adjusts to the target area). Raises ValueError (one line) for unreadable input."""
        out: dict[str, Any] = {}
        for name in self.widgets:
            value = self.value(name)
            if name in ("size", "iterations") or value != self.defaults[name]:
                out[name] = value
        return out
