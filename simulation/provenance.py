"""Where a result came from: the code, the libraries and the machine that produced it.

One builder for every result file: ``run.json`` (a single run) and ``batch.json`` (a batch) both
carry :func:`environment`, so any result can be traced to a code revision and reproduced.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGE = "open-model-ecosystem"
LIBRARIES = ("mesa", "numpy", "numba", "pandas", "pyarrow")


def version(package: str = PACKAGE) -> str:
    """The installed version of ``package``, or "unknown"."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


@cache
def code_revision() -> str:
    """The git commit of the code, with ``-dirty`` when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev}-dirty" if dirty else rev


def environment() -> dict[str, Any]:
    """Package version, code revision, machine and library versions, as JSON-able data."""
    return {
        "package_version": version(),
        "code_revision": code_revision(),
        "machine": {
            "hostname": socket.gethostname(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
        },
        "versions": {name: version(name) for name in LIBRARIES},
    }
