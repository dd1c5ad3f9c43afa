"""What every benchmark script shares: the machine line and writing its own section of
``docs/BENCHMARKS.md`` between ``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import duckdb


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine() -> str:
    """One line naming the machine and the versions that matter for the figures."""
    return (f"Machine: {platform.processor() or platform.machine()}, {cores()} cores, "
            f"Python {platform.python_version()}, duckdb {duckdb.__version__}.")


def write_section(path: Path, name: str, table: str) -> None:
    """Put ``table`` between the ``bench:NAME`` markers of ``path`` (appended if absent)."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{start}\n{table}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text,
                      flags=re.S)
    else:
        text += f"\n{block}\n"
    path.write_text(text, encoding="utf-8")
