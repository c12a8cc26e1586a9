# Saves the virtual X screen as a PNG (evidence for a human reading a failed interactive test).
# Run with the root's python3: screenshot.py OUT.png
import sys

import gi

gi.require_version("Gdk", "3.0")
from gi.repository import Gdk  # noqa: E402

window = Gdk.get_default_root_window()
shot = Gdk.pixbuf_get_from_window(window, 0, 0, window.get_width(), window.get_height())
shot.savev(sys.argv[1], "png", [], [])
