"""What the workbench entry (``workbench.py``) and every page in ``pages/`` share.

Why a module of its own: Streamlit runs the entry file and each page as separate scripts, so a
cached resource defined in one of them is invisible to the others. Holding the workspace here
gives the whole process exactly ONE writable DuckDB connection (DuckDB lets one process write a
file); each script run takes its own cursor from it, since a connection is not thread-safe.

UI plumbing only: no SQL and no matching logic here; those live in :mod:`erpdata`.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from erpdata.errors import ErpdataError
from erpdata.progress import Cancelled, Progress
from erpdata.workspace import Workspace, current_user, resolve_path

DEMO_SIZE_ENV = "ERPDATA_DEMO_SIZE"
DEFAULT_DEMO_SIZE = 2000

KIND_LABELS = {"company": "Companies", "person": "Persons", "project": "Projects"}


def workspace_path() -> Path:
    """The workspace file: ``$ERPDATA_WORKSPACE``, else ``./workspace.duckdb``."""
    return resolve_path().resolve()


def demo_size() -> int:
    """Size of the demo built on first start (``$ERPDATA_DEMO_SIZE``, default 2000)."""
    value = os.environ.get(DEMO_SIZE_ENV, "").strip()
    return int(value) if value else DEFAULT_DEMO_SIZE


_opened_inode: weakref.WeakKeyDictionary[Workspace, int] = weakref.WeakKeyDictionary()


def _close(ws: Workspace) -> None:
    ws.close()


def _same_file(ws: Workspace) -> bool:
    """False (and closed) when the file was deleted or replaced since it was opened, say by a
    restored backup: DuckDB would otherwise hand the same stale database to the next open."""
    try:
        same = ws.path.stat().st_ino == _opened_inode.get(ws)
    except OSError:
        same = False
    if not same:
        ws.close()
    return same


@st.cache_resource(show_spinner=False, validate=_same_file, on_release=_close)
def open_workspace(path: str) -> Workspace:
    """The process's one open workspace at ``path`` (opened, and migrated, on first use)."""
    ws = Workspace.open(path)
    _opened_inode[ws] = ws.path.stat().st_ino
    return ws


def workspace() -> Workspace:
    """The workspace of this app (see :func:`workspace_path`)."""
    return open_workspace(str(workspace_path()))


def counts(ws: Workspace) -> dict[str, Any]:
    """``ws.counts()`` through a cursor of this script run's own (connections are per thread)."""
    cur = ws.cursor()
    try:
        return ws.counts(cur)
    finally:
        cur.close()


def auth_configured() -> bool:
    """True when ``[auth]`` is in the app's secrets: users then sign in with ``st.login``
    (OIDC), and nobody works under a local name."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all
        return False


def connection_secrets() -> dict[str, str]:
    """Connection secrets from the app's secrets (``[erpdata.secrets]``, ``NAME = "..."``);
    the engine reads ``$ERPDATA_SECRET_<NAME>`` itself. Never shown, never stored."""
    try:
        return {str(k): str(v) for k, v in st.secrets.get("erpdata", {}).get("secrets", {})
                .items()}
    except Exception:  # no secrets.toml at all
        return {}


@st.cache_resource(show_spinner=False, on_release=lambda c: c.close())
def _live_system(path: str, name: str, secret: str | None) -> Any:
    from erpdata.connections import get_connection, open_connector

    return open_connector(get_connection(workspace(), name), secret)


def live_system(name: str) -> Any:
    """The open connector of connection ``name`` (one per process: a live system keeps its
    session between script runs)."""
    return _live_system(str(workspace_path()), name, connection_secrets().get(name))


def user() -> tuple[str, str]:
    """Who is working, and how we know: ``(name, "signed in")`` or ``(name, "local")``.

    ``st.user`` when ``[auth]`` is configured in secrets.toml and the user is logged in; else
    ``$ERPDATA_USER`` or the login name, the same as the CLI stamps on its work.
    """
    if st.user.get("is_logged_in"):
        name = st.user.get("email") or st.user.get("name")
        if name:
            return str(name), "signed in"
    return current_user(), "local"


def fmt(n: int) -> str:
    """A count for display: ``12,345``."""
    return f"{n:,}"


def pct(share: float) -> str:
    """A share for display: ``41.2 %``."""
    return f"{share * 100:.1f} %"


# --- long work in a worker thread: matching, commits, the demo ------------------------------

Work = Callable[[Progress, threading.Event], Any]


@dataclass
class Job:
    """Long work running in a worker thread, outside any script run: a click in the browser
    (which stops the script run) cannot abort it halfway, and every session sees its progress.
    The worker makes no ``st.*`` calls; script runs poll ``stage`` and ``fraction``. ``work``
    gets the progress callback and the cancel event that the engine functions take.

    ``queued``: work asked for while this job ran (a Commit click during a dry run), started
    in order when it ends, each in its turn becoming the job of that name; see
    :func:`submit_job`."""

    label: str
    work: Work
    started_by: str = ""
    stage: str = "starting"
    fraction: float = 0.0
    result: Any = None
    error: BaseException | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    name: str = ""
    queued: list[Job] = field(default_factory=list)
    #: the process's jobs by name (:func:`_jobs`), held here because the worker thread that
    #: hands over to the next queued job runs outside any script run
    registry: dict[str, Job] | None = field(default=None, repr=False)

    def start(self) -> Job:
        threading.Thread(target=self._run, name=f"erpdata-{self.label}", daemon=True).start()
        return self

    def _progress(self, stage: str, fraction: float) -> None:
        """Record progress; once Cancel was pressed, raise instead. The engine reports progress
        only where stopping leaves nothing half-written (before or inside its transaction), so
        any engine function that takes ``progress`` can be cancelled this way."""
        if self.cancel.is_set() and stage != "done":
            raise Cancelled(f"{self.label.lower()} was cancelled while {self.stage}; nothing of "
                            "it was written")
        self.stage, self.fraction = stage, min(max(float(fraction), 0.0), 1.0)

    def _run(self) -> None:
        try:
            self.result = self.work(self._progress, self.cancel)
            self._progress("done", 1.0)
        except BaseException as exc:  # shown to the user by the script run that polls
            self.error = exc
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        """End this job and start the next queued one, as one step under the jobs' lock: a
        click that queues work while this job ends either lands in the queue handed over or
        finds this job done and starts its own, never neither. A cancelled job takes its
        queue with it (Cancel means "stop this"), each queued job ending as cancelled, so the
        page says so instead of running work the steward just stopped."""
        with _jobs_lock:
            nxt = self.queued.pop(0) if self.queued else None
            if nxt is not None:
                nxt.queued, self.queued = self.queued, []
                if self.registry is not None and self.name:
                    self.registry[self.name] = nxt
            self.done.set()
        if nxt is None:
            return
        if isinstance(self.error, Cancelled):
            nxt.error = Cancelled(f"{nxt.label.lower()} was not started: "
                                  f"{self.label.lower()} before it was cancelled")
            nxt._hand_over()
        else:
            nxt.start()

    @property
    def running(self) -> bool:
        return not self.done.is_set()


@st.cache_resource(show_spinner=False)
def _jobs() -> dict[str, Job]:
    """The process's jobs by name: one per task (say ``match:company``), the last one kept so
    that its outcome stays on the page until the next one starts."""
    return {}


_jobs_lock = threading.Lock()


def job(name: str) -> Job | None:
    """The running or last finished job called ``name``."""
    return _jobs().get(name)


def start_job(name: str, label: str, work: Work, started_by: str = "") -> Job:
    """Start ``work`` as job ``name``; while one of that name runs, that one is returned (for
    pages whose button is disabled while their job runs; others use :func:`submit_job`)."""
    return submit_job(name, label, work, started_by, queue=False).job


@dataclass(frozen=True)
class Submitted:
    """What became of a click that asked for long work: ``started``, ``queued`` behind the
    running job, or ``refused``; ``message`` says so in words the page shows."""

    job: Job
    outcome: str
    message: str


def _by(j: Job, verb: str = "started") -> str:
    return f" ({verb} by {j.started_by})" if j.started_by else ""


def submit_job(name: str, label: str, work: Work, started_by: str = "", *,
               queue: bool = True) -> Submitted:
    """Start ``work`` as job ``name``, or, while one of that name runs, queue it to run after
    (``queue``) or refuse it; never drop it, as :func:`start_job` does.

    Why: a Commit click in the first second of a dry run used to get the running dry run
    back, and no batch was made with nothing said. The same work asked for twice (a double
    click, a second session) is refused with the reason, not run twice."""
    jobs = _jobs()
    with _jobs_lock:
        current = jobs.get(name)
        if current is None or not current.running:
            started = jobs[name] = Job(label, work, started_by, name=name,
                                       registry=jobs).start()
            return Submitted(started, "started", f"{label} started.")
        if current.label == label:
            return Submitted(current, "refused", f"{label} is already running"
                             f"{_by(current)}: this click was not needed.")
        waiting = next((j for j in current.queued if j.label == label), None)
        if waiting is not None:
            return Submitted(waiting, "refused", f"{label} is already queued"
                             f"{_by(waiting, 'queued')}: "
                             f"it starts when {current.label.lower()} ends.")
        if not queue:
            return Submitted(current, "refused", f"{label} was not started: "
                             f"{current.label.lower()} is running{_by(current)}. "
                             "Try again when it has ended.")
        queued = Job(label, work, started_by, name=name, registry=jobs)
        current.queued.append(queued)
        return Submitted(queued, "queued", f"{label} is queued: it starts when "
                         f"{current.label.lower()} ends.")


def forget_job(name: str) -> None:
    """Drop a finished job's outcome from the page."""
    with _jobs_lock:
        j = _jobs().get(name)
        if j is not None and not j.running:
            del _jobs()[name]


@st.fragment(run_every=0.5)
def job_progress(name: str) -> None:
    """The progress bar and Cancel button of a running job; the whole page runs again when it
    ends, so that it shows the outcome."""
    j = job(name)
    if j is None or not j.running:
        st.rerun()
    assert j is not None
    with st.container(border=True):
        st.progress(j.fraction, text=f"{j.label}: {j.stage}")
        for later in list(j.queued):
            st.caption(f"Then: {later.label}{_by(later, 'queued')}")
        cancelling = j.cancel.is_set()
        if st.button("Cancelling…" if cancelling else "Cancel", key=f"cancel_{name}",
                     disabled=cancelling, help="Stops at the next step; nothing is written."
                     + (" What is queued after it is not started." if j.queued else "")):
            j.cancel.set()


def job_outcome(j: Job) -> bool:
    """Show how a finished job ended; True when it succeeded."""
    if j.error is None:
        return True
    if isinstance(j.error, Cancelled):
        st.info(str(j.error))
    elif isinstance(j.error, ErpdataError):  # explained by the engine
        st.error(str(j.error))
    else:  # a bug: show the traceback
        st.exception(j.error)
    return False


def demo_build(path: Path, size: int) -> Job:
    """The (one, shared) build of the demo workspace at ``path``, started unless it runs.

    The demo is built under a temporary name and renamed when complete, so a crash or a kill
    never leaves a half-built workspace that would be taken for a finished one."""

    def build(progress: Progress, _cancel: threading.Event) -> None:
        from erpdata.demo import DEFAULT_SEED, build_demo, default_export_dir

        tmp = path.with_name(f".{path.name}.building")
        try:
            _remove(tmp)
            build_demo(tmp, size=size, seed=DEFAULT_SEED,
                       export_dir=default_export_dir(path), progress=progress)
            tmp.replace(path)
        finally:
            _remove(tmp)

    return start_job(f"demo:{path}", "Building the demo", build)


def _remove(db: Path) -> None:
    for f in (db, db.with_name(db.name + ".wal")):
        f.unlink(missing_ok=True)


def counts_rows(counts: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the kind × side table: kind, CRM, ERP, linked, linked share, missing."""
    return [
        {
            "kind": kind,
            "label": KIND_LABELS[kind],
            "crm": counts["crm"][kind],
            "erp": counts["erp"][kind],
            "linked": counts["links"][kind],
            "share": counts["linked_share"][kind],
            "missing_crm": counts["missing"]["crm"][kind],
            "missing_erp": counts["missing"]["erp"][kind],
        }
        for kind in counts["crm"]
    ]


def pager(keys: list[Any], next_key: Any, prefix: str, caption: str = "") -> None:
    """Previous / next buttons over a keyset-paged list; ``keys`` holds the start key of each
    page seen so far (``None`` for the first), kept in the session by the page."""
    c1, c2, c3 = st.columns([1, 1, 4])
    if c1.button("Previous page", disabled=len(keys) == 1, key=f"{prefix}_prev"):
        keys.pop()
        st.rerun()
    if c2.button("Next page", disabled=next_key is None, key=f"{prefix}_next"):
        keys.append(next_key)
        st.rerun()
    if caption:
        c3.caption(caption)
