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
from erpdata.workspace import Workspace, acting, current_user, resolve_path

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
    """The cache dropped ``ws``: closed now, or, while jobs hold it (:class:`Job`), when the
    last of them ends (:meth:`Workspace.close` waits for :meth:`Workspace.release`)."""
    ws.close()


def _same_file(ws: Workspace) -> bool:
    """False (and closed) when the file was deleted or replaced since it was opened, say by a
    restored backup: DuckDB would otherwise hand the same stale database to the next open.

    While a job still holds it, it is kept (True) until the job ends: closing it would pull
    the connection from under the job, and opening the new file meanwhile would get the
    stale database from DuckDB. The next script run after the job checks again."""
    try:
        same = ws.path.stat().st_ino == _opened_inode.get(ws)
    except OSError:
        same = False
    if not same and ws.holders:
        return True
    if not same:
        ws.close()
    return same


def _open_workspaces() -> list[Workspace]:
    """The workspaces the cache opened that are not closed (one, in practice)."""
    return [ws for ws in list(_opened_inode.keys()) if not ws.closed]


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
    (OIDC), and nobody works under a local name. No secrets file, or one without ``[auth]``:
    False, a one-person workbench under the local name.

    Fails closed: a secrets file that exists but cannot be read or parsed, or an ``[auth]``
    section ``st.login`` could not sign in with, stops the app here with an error naming the
    file and line (see :func:`auth_problem`). It used to count as "no auth configured", so a
    typo in ``[auth]`` opened the workbench to everyone as the local user."""
    problem, configured = auth_problem()
    if problem is not None:
        st.error(problem)
        st.stop()
    return configured


#: What ``st.login()`` (the default provider, as the Sign in button calls it) needs in
#: ``[auth]``: Streamlit's ``validate_auth_credentials`` refuses a sign-in without them.
AUTH_KEYS = ("redirect_uri", "cookie_secret")
AUTH_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")

_STOPPED = ("The workbench does not start with it: a broken sign-in set-up would otherwise let "
            "everyone in as the local user. Correct the file (or remove its [auth] section to "
            "work as one local user), then reload this page.")


def auth_problem() -> tuple[str | None, bool]:
    """``(problem, configured)``: what is wrong with the app's secrets files or ``[auth]``
    section (``None``: nothing), and whether sign-in is configured.

    Reads the files Streamlit reads (its ``secrets.files`` option) itself, because
    ``st.secrets`` says "no secrets" both when there is no file and when the file does not
    parse. Never quotes a secret: only file names, lines and key names."""
    import re
    import tomllib

    from streamlit import config

    found = False
    where, auth = "the app's secrets", None
    for entry in config.get_option("secrets.files"):
        if not str(entry).endswith(".toml"):  # a folder of Kubernetes secrets: Streamlit's
            continue
        path = Path(entry)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return f"{path}: the secrets file exists but cannot be read ({why}). {_STOPPED}", False
        found = True
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            at = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            what = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
            line = f", line {at.group(1)}, column {at.group(2)}" if at else ""
            return f"{path}{line}: not valid TOML: {what}. {_STOPPED}", False
        if "auth" in data:  # a later file's [auth] replaces an earlier one's, as in Streamlit
            header = next((i for i, row in enumerate(text.splitlines(), 1)
                           if re.match(r'\s*(\[\s*"?auth"?\s*[\].]|"?auth"?\s*[.=])', row)),
                          None)
            where = f"{path}, line {header}" if header else str(path)
            auth = data["auth"]
    try:  # not in a file: secrets given in code (AppTest's at.secrets) or a secrets folder
        auth = st.secrets.get("auth") if auth is None else auth
    except Exception as exc:  # what Streamlit itself cannot read (a secrets folder)
        if not found:
            return None, False  # no secrets at all: a one-person workbench
        return f"the app's secrets cannot be read: {exc}. {_STOPPED}", False
    if auth is None:
        return None, False
    if not hasattr(auth, "get"):
        return f"{where}: auth must be a section ([auth]), not a single value. {_STOPPED}", False
    provider = auth.get("default") if hasattr(auth.get("default"), "get") else auth
    missing = [k for k in AUTH_KEYS if not auth.get(k)]
    missing += [k for k in AUTH_PROVIDER_KEYS if not provider.get(k)]
    if missing:
        return (f"{where}: the [auth] section lacks {', '.join(missing)}, which st.login needs "
                "to sign users in (the provider's keys directly under [auth] or under "
                f"[auth.default]). {_STOPPED}"), False
    if not str(auth.get("redirect_uri")).endswith("/oauth2callback"):
        return (f"{where}: redirect_uri must end with /oauth2callback (such as "
                "http://localhost:8501/oauth2callback), or signing in cannot return to the "
                f"workbench. {_STOPPED}"), False
    return None, True


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
    from erpdata.live.connections import get_connection, open_connector, serialised

    return serialised(open_connector(get_connection(workspace(), name), secret), name)


def live_system(name: str) -> Any:
    """The open connector of connection ``name`` (one per process: a live system keeps its
    session between script runs), shared by every session and job, so its calls take turns
    (:func:`erpdata.live.connections.serialised`; its ``close`` too, when the cache drops it)."""
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
    #: the workspaces this job holds open from its making (queued too) to its end: the cache
    #: dropping one (a cleared cache, a replaced file) closes it only after the job; None:
    #: every workspace the cache has open, since ``work`` got its own from there
    workspaces: list[Workspace] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        held = _open_workspaces() if self.workspaces is None else self.workspaces
        self.workspaces = []
        for ws in held:
            try:
                self.workspaces.append(ws.retain())
            except ErpdataError:  # closed meanwhile: not ours to hold
                continue

    def _release(self) -> None:
        """Let go of the workspaces (once): a cache that dropped one closes it now."""
        held, self.workspaces = self.workspaces or [], []
        for ws in held:
            ws.release()

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
            # a write kept waiting by this job is told whose and what it is
            with acting(self.started_by or None, self.label[:1].lower() + self.label[1:]):
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
        self._release()
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
