"""Impasto's GIMP 3 plug-in: the package beside the executable `impasto-stylize.py`.

plugin.py declares the procedure and runs it, layers.py is the GIMP image API (read the source,
write the result layer), job.py the daemon conversation, settings.py turns arguments into engine
settings, dialog.py the interactive UI. Nothing runs at import time.
"""
