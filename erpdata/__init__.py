"""erpdata: the engine of erpdata workbench, usable from the workbench, a notebook or the CLI.

The public API is what this module exports, and nothing else; a test keeps ``__all__`` honest.
Implementation modules may change; these names are the contract. The steward's flow, in order:
:func:`build_demo` or :func:`load_file` -> :func:`match_workspace` -> :func:`decide` /
:func:`decide_bulk` -> :func:`diff` and :func:`pick` -> :func:`commit` (``dry_run=True`` first)
-> :func:`undo` if needed -> :func:`build_reports` / :func:`export_reports`; with live systems,
:func:`add_connection` once and :func:`sync_now` after each commit.
"""

from erpdata.demo import DemoSummary, build_demo
from erpdata.errors import ErpdataError, IngestError, WorkspaceError
from erpdata.ingest.load import CellProblem, LoadResult, changes, load_file, recent_loads
from erpdata.live.connections import Connection, add_connection
from erpdata.live.sync import sync_now
from erpdata.matching import match_files, match_frames, match_workspace, suggestions
from erpdata.progress import Cancelled
from erpdata.roles import AccessDenied, grant, role_of
from erpdata.schema import ACTOR_TYPES, KINDS, SIDES, Field, fields
from erpdata.steward.commit import BatchResult, batches, commit, disconnect, pending, undo
from erpdata.steward.decisions import (
    STATES,
    BulkResult,
    Filter,
    current_decision,
    decide,
    decide_bulk,
    queue_facets,
    queue_page,
    revoke,
    withdraw,
)
from erpdata.steward.mappings import FieldMapping, mappings, save_mappings
from erpdata.steward.reports import build_reports, default_delimiter, export_reports
from erpdata.steward.review import diff, pick
from erpdata.workspace import SCHEMA_VERSION, Workspace, resolve_path

__all__ = [
    "ACTOR_TYPES",
    "KINDS",
    "SCHEMA_VERSION",
    "SIDES",
    "STATES",
    "AccessDenied",
    "BatchResult",
    "BulkResult",
    "Cancelled",
    "CellProblem",
    "Connection",
    "DemoSummary",
    "ErpdataError",
    "Field",
    "FieldMapping",
    "Filter",
    "IngestError",
    "LoadResult",
    "Workspace",
    "WorkspaceError",
    "add_connection",
    "batches",
    "build_demo",
    "build_reports",
    "changes",
    "commit",
    "current_decision",
    "decide",
    "decide_bulk",
    "default_delimiter",
    "diff",
    "disconnect",
    "export_reports",
    "fields",
    "grant",
    "load_file",
    "mappings",
    "match_files",
    "match_frames",
    "match_workspace",
    "pending",
    "pick",
    "queue_facets",
    "queue_page",
    "recent_loads",
    "resolve_path",
    "revoke",
    "role_of",
    "save_mappings",
    "suggestions",
    "sync_now",
    "undo",
    "withdraw",
]
