"""The GIMP root's flock: two test runs on one machine take turns with its mounts."""

from __future__ import annotations

from pathlib import Path

import gimp_root  # tests/gimp/, put on sys.path by its conftest
import pytest


def test_a_second_holder_waits_then_gives_up(tmp_path: Path) -> None:
    root = tmp_path / "gimp-trixie"
    with gimp_root._locked(root):
        # flock locks are per open file: a second open in this process conflicts like a
        # second test run would.
        with pytest.raises(gimp_root.RootError, match="stayed locked"):
            with gimp_root._locked(root, wait=0.3):
                pass
    with gimp_root._locked(root, wait=0.3):  # released: free again
        pass


def test_an_incomplete_root_is_not_used(tmp_path: Path) -> None:
    half = tmp_path / "half-built"
    (half / "usr" / "bin").mkdir(parents=True)
    assert not gimp_root.is_complete(half)
    with pytest.raises(gimp_root.RootError, match="not a complete GIMP 3 root"):
        with gimp_root.mounted(half, tmp_path):
            pass
