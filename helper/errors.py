"""Exit codes of ``vmotion-helper`` and the one error type that carries them.

Every failure the helper expects ends as a ``HelperError``: one line on stderr and its exit code.
The codes are part of the interface (scripts branch on them), so they never change meaning.
"""

from __future__ import annotations

import enum
from typing import Optional


class ExitCode(enum.IntEnum):
    OK = 0
    CHECK_FAILED = 1  # `check`: notifications would not work for this VM
    USAGE = 2  # bad arguments, bad value, missing or malformed environment variable
    NOT_FOUND = 3  # no object of that kind has that name
    AMBIGUOUS = 4  # more than one object of that kind has that name
    UNREACHABLE = 5  # nothing answers, not a vSphere endpoint, TLS failure
    BAD_CREDENTIALS = 6  # the endpoint refused the user name or password
    API_TOO_OLD = 7  # the negotiated API version would drop the fields
    SERVER_FAULT = 8  # the server refused the request or the task failed
    NOT_APPLIED = 9  # the server accepted the change but reads back something else
    INTERNAL = 70  # a bug in the helper (EX_SOFTWARE); the message says what broke


class HelperError(Exception):
    """An expected failure: printed as ``vmotion-helper: <message>`` (plus a hint), never as a traceback."""

    def __init__(self, code: ExitCode, message: str, hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = self.message if self.hint is None else f"{self.message} (hint: {self.hint})"
        # One line whatever the server put in its fault message.
        return " ".join(text.split())
