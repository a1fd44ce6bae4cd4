"""Durations drawn per VM: ``5`` (a constant), ``uniform:A:B``, ``lognormal:MU:SIGMA``.

``register_distribution`` is the extension point: a module that can turn something into durations (the
incident importers, for ``empirical:FILE`` from a recording or a log) registers its prefix, and every
``--quiesce`` / ``--migration-seconds`` option accepts it from then on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Dict, List, Protocol


class Distribution(Protocol):
    def draw(self, rng: random.Random) -> float:
        """One duration in seconds, finite and >= 0."""
        ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Constant:
    seconds: float

    def draw(self, rng: random.Random) -> float:
        return self.seconds

    def describe(self) -> str:
        return f"{self.seconds:g}"


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def draw(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    def describe(self) -> str:
        return f"uniform:{self.low:g}:{self.high:g}"


@dataclass(frozen=True)
class LogNormal:
    """``exp(N(mu, sigma))`` seconds: mu and sigma are those of the duration's natural logarithm."""

    mu: float
    sigma: float

    def draw(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma)

    def describe(self) -> str:
        return f"lognormal:{self.mu:g}:{self.sigma:g}"


Parser = Callable[[List[str]], Distribution]  # the words after "KIND:", split on ":"


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not finite")
    return value


def _seconds(text: str, what: str) -> float:
    value = _number(text, what)
    if value < 0:
        raise ValueError(f"{what} {text!r} is negative")
    return value


def _arity(kind: str, words: List[str], names: str) -> None:
    if len(words) != len(names.split(":")):
        raise ValueError(f"{kind} takes {kind}:{names}")


def _uniform(words: List[str]) -> Distribution:
    _arity("uniform", words, "A:B")
    low, high = _seconds(words[0], "uniform A"), _seconds(words[1], "uniform B")
    if high < low:
        raise ValueError("uniform:A:B needs A <= B")
    return Uniform(low, high)


def _lognormal(words: List[str]) -> Distribution:
    _arity("lognormal", words, "MU:SIGMA")
    mu, sigma = _number(words[0], "lognormal MU"), _number(words[1], "lognormal SIGMA")
    if sigma < 0:
        raise ValueError("lognormal SIGMA must be >= 0")
    if mu > 20:  # exp(20) s is 15 years: surely a mistake, and larger values overflow the virtual clock
        raise ValueError("lognormal MU is the log of seconds; it must be <= 20")
    return LogNormal(mu, sigma)


_PARSERS: Dict[str, Parser] = {"uniform": _uniform, "lognormal": _lognormal}


def register_distribution(kind: str, parser: Parser) -> None:
    """Make ``KIND:...`` parse with ``parser`` (given the words after ``KIND:``); it raises ValueError on bad words."""
    if not kind.isidentifier():
        raise ValueError(f"a distribution kind is a word, not {kind!r}")
    _PARSERS[kind] = parser


def parse_distribution(text: str) -> Distribution:
    """``5``, ``uniform:A:B``, ``lognormal:MU:SIGMA``, or a registered ``KIND:...``; ValueError says what is wrong."""
    kind, sep, rest = text.strip().partition(":")
    if not sep:
        return Constant(_seconds(kind, "duration"))
    parser = _PARSERS.get(kind)
    if parser is None:
        known = ", ".join(f"{k}:..." for k in sorted(_PARSERS))
        raise ValueError(f"unknown duration {text!r} (a number of seconds, or {known})")
    return parser(rest.split(":"))
