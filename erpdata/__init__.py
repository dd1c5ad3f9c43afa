"""erpdata: the engine of erpdata workbench, usable from the workbench, a notebook or the CLI.

The public API is what this module exports, and nothing else; a test keeps ``__all__`` honest.
Implementation modules may change; these names are the contract.
"""

from erpdata.demo import DemoSummary, build_demo
from erpdata.errors import ErpdataError, IngestError, WorkspaceError
from erpdata.ingest import LoadResult, changes, load_file, recent_loads
from erpdata.schema import ACTOR_TYPES, KINDS, SIDES, Field, fields
from erpdata.workspace import SCHEMA_VERSION, Workspace, resolve_path

__all__ = [
    "ACTOR_TYPES",
    "KINDS",
    "SCHEMA_VERSION",
    "SIDES",
    "DemoSummary",
    "ErpdataError",
    "Field",
    "IngestError",
    "LoadResult",
    "Workspace",
    "WorkspaceError",
    "build_demo",
    "changes",
    "fields",
    "load_file",
    "recent_loads",
    "resolve_path",
]
