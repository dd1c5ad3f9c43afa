"""Progress and cancellation of long work (loads, matching, commits).

Why one module: the CLI draws a tqdm bar, the workbench a Streamlit bar from a worker thread,
a notebook nothing at all; the engine only calls ``progress(stage, fraction)``. Cancelling is
the same callback seen from the other side: the caller sets an event and the engine stops at
its next progress point, before it writes what stewards see, so a cancelled run leaves the
workspace as it was (a match run keeps only its derived stages, to resume after them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from erpdata.errors import ErpdataError

#: ``progress(stage label, fraction 0..1)``.
Progress = Callable[[str, float], None]


class Cancelled(ErpdataError):
    """Long work stopped on request, at a point where nothing of it had been written."""


def reporter(progress: Progress | None, cancel: threading.Event | None, what: str,
             outcome: str = "nothing of it was written") -> Progress:
    """A progress callback that first raises :class:`Cancelled` once ``cancel`` is set;
    ``outcome`` says what the stopped work left behind."""

    def report(stage: str, fraction: float) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"{what} was cancelled while {stage}; {outcome}")
        if progress is not None:
            progress(stage, fraction)

    return report
