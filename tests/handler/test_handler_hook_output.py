"""A hook's output reaches the log bounded in line length and in rate, and draining it never slows the hook."""

from __future__ import annotations

import shlex
import sys
from typing import List, Tuple

import pytest

from handler.hooks import LINE_BURST, LINES_PER_SECOND, MAX_LINE_BYTES, OutputLimiter, SubprocessHookRunner


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _limiter() -> Tuple[OutputLimiter, List[str], FakeTime]:
    lines: List[str] = []
    clock = FakeTime()
    return OutputLimiter("quiesce", lambda hook, line: lines.append(line), monotonic=clock), lines, clock


def test_a_long_line_is_cut_with_a_marker_and_nothing_of_it_is_held() -> None:
    limiter, lines, _ = _limiter()
    limiter.feed(b"start\n")
    for _ in range(320):  # one 20 MB line, in pipe-sized chunks
        limiter.feed(b"x" * 65536)
    limiter.feed(b"\nafter\n")
    limiter.close()
    assert lines[0] == "start" and lines[2] == "after" and len(lines) == 3
    assert lines[1] == "x" * MAX_LINE_BYTES + f" [... {320 * 65536 - MAX_LINE_BYTES} more bytes of this line cut]"


def test_lines_over_the_rate_are_dropped_and_counted() -> None:
    limiter, lines, clock = _limiter()
    limiter.feed(b"".join(b"line %d\n" % i for i in range(LINE_BURST + 5000)))
    assert lines == [f"line {i}" for i in range(LINE_BURST)]
    clock.t = 1.0  # one second later: LINES_PER_SECOND more may go
    limiter.feed(b"".join(b"late %d\n" % i for i in range(int(LINES_PER_SECOND) + 7)))
    assert lines[LINE_BURST] == f"[5000 lines of output dropped: more than {LINES_PER_SECOND:g} lines/s]"
    assert lines[LINE_BURST + 1:] == [f"late {i}" for i in range(int(LINES_PER_SECOND))]
    limiter.close()
    assert lines[-1] == f"[7 lines of output dropped: more than {LINES_PER_SECOND:g} lines/s]"


def test_a_last_line_without_a_newline_and_crlf_endings() -> None:
    limiter, lines, _ = _limiter()
    limiter.feed(b"one\r\ntw")
    limiter.feed(b"o")
    limiter.close()
    assert lines == ["one", "two"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell quoting")
def test_a_hook_printing_20_mb_runs_to_its_end_and_the_log_gets_a_bounded_part() -> None:
    program = (
        "import sys; out = sys.stdout.buffer; out.write(b'x' * 20_000_000 + b'\\n'); "
        "[out.write(b'y' * 100 + b'\\n') for _ in range(200_000)]; out.write(b'done\\n')"
    )
    logged: List[str] = []
    runner = SubprocessHookRunner(sink=lambda hook, line: logged.append(line))
    hook = runner.start("quiesce", shlex.join([sys.executable, "-c", program]), {})
    result = hook.wait(120)  # generous: a hook throttled to the log's pace took 8 s for this
    assert result is not None and result.ok, result
    assert max(len(line) for line in logged) < MAX_LINE_BYTES + 100
    assert len(logged) <= LINE_BURST + 2000  # the burst, plus what the rate allowed while it ran (a few s)
    assert sum(len(line) for line in logged) < 2_000_000
    assert any("lines of output dropped" in line for line in logged)
