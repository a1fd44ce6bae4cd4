"""Command-line value types shared by every ``vmotion-sim`` subcommand: each turns a word into a bounded value,
or into a usage error (exit 2) that says what is wrong with it."""

from __future__ import annotations

import argparse
import math

from simulator.model.config import MAX_SECONDS


def whole_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("seconds must be >= 0")
    return value


def seconds(text: str) -> float:
    """A duration: finite, from 0 to MAX_SECONDS."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds")
    if not 0 <= value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"seconds must be from 0 to {MAX_SECONDS}")
    return value


def positive_seconds(text: str) -> float:
    value = seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("seconds must be > 0")
    return value


def count(text: str) -> int:
    """A whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value
