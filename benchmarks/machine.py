"""What the numbers were measured on: they mean nothing without it."""

from __future__ import annotations

import os
import platform
import sys
from typing import Dict, Union


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe() -> Dict[str, Union[str, int]]:
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
    }
