"""A bounded cache of style targets (Gram matrices per layer).

Computing a style's targets costs a forward pass of the style image at every scale. A user who
moves a slider re-runs with the same style many times, so the targets are kept, keyed by a hash
of the style pixels and of everything else that changes them (size, layers, pooling, weights,
colour preprocessing), and shared by every job of a warm engine.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import torch

Targets = dict[str, torch.Tensor]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    entries: int = 0
    bytes: int = 0


class StyleTargetCache:
    """Least-recently-used, bounded in bytes; safe to share between threads."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[Targets, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def get(self, key: str) -> Targets | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.stats.misses += 1
                return None
            self._items.move_to_end(key)
            self.stats.hits += 1
            return item[0]

    def put(self, key: str, targets: Targets) -> None:
        size = sum(t.numel() * t.element_size() for t in targets.values())
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self.stats.bytes -= self._items.pop(key)[1]
            self._items[key] = (targets, size)
            self.stats.bytes += size
            while self.stats.bytes > self.max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self.stats.bytes -= evicted
            self.stats.entries = len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.stats.bytes = 0
            self.stats.entries = 0
