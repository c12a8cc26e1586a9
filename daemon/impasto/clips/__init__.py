"""Clips: videos, animations and numbered frames, stylized frame after frame.

clip_io reads and writes them (PyAV and Pillow); sequence stylizes the frames in order, keeping
them consistent in time (flow: the motion between two frames). Nothing here is imported by the
engine.
"""
