"""Jobs for the worker-process tests: importable by name from a fresh interpreter."""

from __future__ import annotations

import os
import time
from pathlib import Path


def divide(pair):
    numerator, denominator = pair
    return numerator / denominator


def sleep_and_record(arguments):
    """Append this process's id to a file, then sleep (a long job to kill the parent under)."""
    path, seconds = arguments
    with open(Path(path), "a") as handle:
        handle.write(f"{os.getpid()}\n")
    time.sleep(seconds)
