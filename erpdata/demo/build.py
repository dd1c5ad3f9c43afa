"""Building the demo workspace: write the exports, then load them as a steward would.

Why through the exports: the demo takes the same path as a steward's files (the files on disk,
then :func:`erpdata.ingest.load.load_file`), so the app's embedded default workspace is also a
test of that path; and the files stay beside the workspace (``<stem>.demo/``) for anyone to
open. Why only into an empty workspace: demo data must never mix with real data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erpdata.demo.exports import DEFAULT_SEED, DEFAULT_SIZE, LOAD_ORDER, DemoFiles, write_exports
from erpdata.errors import ErpdataError
from erpdata.progress import Progress
from erpdata.roles import guarded, require_for, role_of
from erpdata.workspace import Workspace


@dataclass
class DemoSummary:
    """What :func:`build_demo` did: where, how many records, and how long each stage took."""

    workspace: Path
    exports: DemoFiles
    size: int
    seed: int
    counts: dict[str, Any]
    seconds: dict[str, float]


def default_export_dir(workspace: Path) -> Path:
    """``<workspace stem>.demo/`` beside the workspace file."""
    return workspace.with_name(workspace.stem + ".demo")


#: Share of the progress bar for generating and writing the exports (the loads take the rest);
#: measured at 1,000,000 companies, where writing takes about a third of the time.
_WRITE_SHARE = 0.35


def _refuse_records(ws: Workspace) -> None:
    """Raise :class:`ErpdataError` when the workspace already holds records (present or missing)."""
    counts = ws.counts()
    existing = sum(counts[side][kind] + counts["missing"][side][kind]
                   for side in ("crm", "erp") for kind in ("company", "person", "project"))
    if existing:
        raise ErpdataError(
            f"workspace {ws.path} already holds {existing:,} records; the demo is only built "
            "into an empty workspace, so demo data never mixes with real data. Choose a new "
            "workspace path."
        )


def _load_exports(ws: Workspace, files: DemoFiles, report: Progress, loader: str = "demo"
                  ) -> dict[str, float]:
    """Load the exports in :data:`LOAD_ORDER` as ``loader``; progress weighted by rows;
    seconds per load."""
    from erpdata.ingest.load import load_file  # imported here: ingest is not needed to generate

    seconds: dict[str, float] = {}
    total = sum(files.rows[key] for key in LOAD_ORDER) or 1
    done = 0
    for side, kind in LOAD_ORDER:
        label = f"loading {side} {kind}"
        base = _WRITE_SHARE + (1 - _WRITE_SHARE) * done / total
        done += files.rows[(side, kind)]
        end = _WRITE_SHARE + (1 - _WRITE_SHARE) * done / total
        report(label, base)
        t0 = time.perf_counter()
        load_file(ws, files.files[(side, kind)], side=side, kind=kind, user=loader,
                  progress=lambda stage, f, label=label, base=base, end=end: report(
                      f"{label}: {stage}", min(end, base + (end - base) * f)))
        seconds[label] = time.perf_counter() - t0
    return seconds


@guarded
def build_demo(workspace: str | Path | Workspace | None = None, *, size: int = DEFAULT_SIZE,
               seed: int = DEFAULT_SEED, export_dir: Path | None = None,
               progress: Progress | None = None, user: str | None = None) -> DemoSummary:
    """Write the demo exports and load them into an empty workspace; return a summary.

    ``workspace`` is a path (default: :func:`erpdata.workspace.resolve_path`) or an open
    :class:`~erpdata.workspace.Workspace` (left open). A workspace that already holds records
    is refused with :class:`ErpdataError`: demo data never mixes with real data. The exports go to
    ``export_dir`` (default ``<workspace stem>.demo/`` beside the workspace) and are loaded in
    :data:`LOAD_ORDER` by :func:`erpdata.ingest.load.load_file` (as user ``demo``), so they take
    the same path as a steward's files. ``demo_size`` and ``demo_seed`` are stored with
    ``ws.set_meta``. ``progress`` is called with ``(stage label, fraction 0..1)``: at the start,
    after each file written, at the start of each load ("loading crm company") and at each of
    the load's own stages ("loading crm company: applying"), and 1.0 at the end.

    Building the demo loads records, so ``user`` (default: the current user) must be a
    steward; a fresh workspace lists no users, where everyone is. The loads are stamped
    ``demo`` where that name may load (a one-person workspace), else with ``user``: in a
    multi-user workspace an unlisted "demo" is a viewer and its loads would be refused.
    """
    owned = not isinstance(workspace, Workspace)
    ws = Workspace.open(workspace) if owned else workspace  # type: ignore[arg-type]
    try:
        who = require_for(ws, "build_demo", user)  # a path is checked once opened
        loader = "demo" if role_of(ws, "demo") != "viewer" else who
        _refuse_records(ws)
        report = progress or (lambda label, fraction: None)
        start = time.perf_counter()
        report("generating and writing demo exports", 0.0)
        files = write_exports(export_dir or default_export_dir(ws.path), size, seed,
                              progress=lambda label, f: report(label, _WRITE_SHARE * f))
        seconds = {"generate + write": time.perf_counter() - start}
        seconds |= _load_exports(ws, files, report, loader)
        ws.set_meta("demo_size", str(size))
        ws.set_meta("demo_seed", str(seed))
        seconds["total"] = time.perf_counter() - start
        report("demo workspace ready", 1.0)
        return DemoSummary(ws.path, files, size, seed, ws.counts(), seconds)
    finally:
        if owned:
            ws.close()
