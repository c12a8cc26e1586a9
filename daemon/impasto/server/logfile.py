"""The daemon's log file, on a disk that may fill up.

logging's own handlers answer a failed write with a traceback on stderr, for every record: on a
full disk that is a page of text per request, and where stderr is a pipe nobody reads (a
plug-in that started the daemon) the pipe fills and the daemon blocks in the middle of its
socket loop. A log is worth less than the service: this handler says once, in one line, that
the log cannot be written, drops records while that lasts, and notes in the log how many were
lost when writing works again.
"""

from __future__ import annotations

import logging
import sys


class DaemonLogHandler(logging.FileHandler):
    def __init__(self, filename: str) -> None:
        super().__init__(filename, encoding="utf-8")
        self.dropped = 0  # records lost since the last successful write
        self.failing = False
        self._failed_now = False

    def emit(self, record: logging.LogRecord) -> None:
        self._failed_now = False
        super().emit(record)  # calls handleError on failure
        if self.failing and not self._failed_now:
            self.failing = False
            lost, self.dropped = self.dropped, 0
            note = logging.LogRecord(
                record.name, logging.WARNING, __file__, 0,
                "the log could not be written for a while: %d record(s) were lost",
                (lost,), None,
            )  # fmt: skip
            super().emit(note)

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        self._failed_now = True
        self.dropped += 1
        if not self.failing:
            self.failing = True
            try:
                sys.stderr.write(
                    f"impasto daemon: cannot write the log {self.baseFilename}: "
                    f"{error.strerror or error}; dropping log records until it can be written\n"
                )
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):
                pass  # stderr may be on the same full disk, or closed
