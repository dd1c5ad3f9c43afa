"""What every benchmark script shares: the machine line and writing its own section of
``docs/BENCHMARKS.md`` between ``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine() -> str:
    """One line naming the machine and the versions that matter for the figures."""
    return (f"Machine: {platform.processor() or platform.machine()}, {cores()} cores, "
            f"Python {platform.python_version()}, duckdb {duckdb.__version__}.")


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Reads ``VmHWM`` (the high-water mark of this process's own address space): ``ru_maxrss``
    survives ``exec``, so a child started by a big parent would report the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_json_child(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Run a benchmark child process and return the JSON object on its last stdout line.

    A child per measurement keeps each job's peak RSS its own; its stderr passes through so a
    long run shows its progress, and a failing child stops the benchmark with its exit code.
    ``env``: variables to set for the child, on top of this process's.
    """
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=None, text=True,
                         cwd=Path(__file__).resolve().parent.parent,
                         env=None if env is None else {**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_child_arguments(ap: argparse.ArgumentParser) -> None:
    """The options :func:`run_dataset_child` passes to the child it starts."""
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=Path, help=argparse.SUPPRESS)


def run_dataset_child(script: str, name: str, out: Path | None, cache: Path | None
                      ) -> dict:
    """Run ``script --child NAME [--out OUT] [--cache CACHE]`` in a fresh process (see
    :func:`run_json_child`): the one way quality and speed runs start a measured job."""
    cmd = [sys.executable, script, "--child", name]
    if out is not None:
        cmd += ["--out", str(out)]
    if cache is not None:
        cmd += ["--cache", str(cache)]
    return run_json_child(cmd)


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


def finish(table: str, rows: list[dict[str, Any]], *, json_path: Path | None,
           write: Path | None, section: str) -> None:
    """Print a benchmark's table and keep what was asked: the raw rows as JSON (without the
    loaded data sets) and the table between the ``bench:SECTION`` markers of ``write``."""
    print(table)
    if json_path:
        raw = [{k: v for k, v in r.items() if k != "ds"} for r in rows]
        json_path.write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
    if write:
        write_section(write, section, table)
