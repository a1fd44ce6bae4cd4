"""Replace a file in one step, so that no reader (or restarted handler) ever sees half of it."""

from __future__ import annotations

import contextlib
import os
import tempfile


def write_atomically(path: str, text: str, mode: int, durable: bool, dir_mode: int = 0o755) -> None:
    """Write ``text`` beside ``path`` (created 0600 by mkstemp), set ``mode``, rename over ``path``.

    ``durable`` adds an fsync before the rename: the state file must survive a crash right after an ack;
    a metrics file is rewritten every poll and need not.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
