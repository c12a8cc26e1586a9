"""The one module that imports Qt.

Krita 5 embeds PyQt5; Krita 6 moves to PyQt6, whose enums are scoped and whose module names
differ. Every other module takes its Qt names from here, so that move touches this file only.
"""

from __future__ import annotations

from PyQt5.QtCore import QEvent, QObject, QSize, QSocketNotifier, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

Signal = pyqtSignal

__all__ = [
    "QAbstractItemView",
    "QAbstractSpinBox",
    "QApplication",
    "QCheckBox",
    "QColor",
    "QComboBox",
    "QDoubleSpinBox",
    "QEvent",
    "QFileDialog",
    "QFormLayout",
    "QFrame",
    "QGroupBox",
    "QHBoxLayout",
    "QHeaderView",
    "QIcon",
    "QImage",
    "QLabel",
    "QLineEdit",
    "QListWidget",
    "QListWidgetItem",
    "QMainWindow",
    "QObject",
    "QPainter",
    "QPixmap",
    "QProgressBar",
    "QPushButton",
    "QScrollArea",
    "QSize",
    "QSlider",
    "QSocketNotifier",
    "QSpinBox",
    "QTableWidget",
    "QTableWidgetItem",
    "QTimer",
    "QToolButton",
    "QVBoxLayout",
    "QWidget",
    "Qt",
    "Signal",
]
