"""The files connector: export folders stand for the live systems, change sets go out as files.

Why it exists: most stewards start with exports, and an import tool on the other side. With this
connector everything works without a server: records are read from the folder's export files
(``erp_company.csv``, ``crm_person.xlsx``, ... any format :func:`~erpdata.ingest.load.load_file`
reads, mapped the same way), and what a sync would send is appended to change-set files in
``<folder>/outbox/`` for the import tool. Appends are idempotent: a change already in the file
(same key, field and value) is not written twice, so a retried sync writes each change once.
The change sets are byte-exact, never neutralised for spreadsheets: an import tool reads them,
and a ``'`` before ``+47 22 33 44 55`` or ``-12.5`` would go into the ERP as part of the value.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from erpdata.errors import ErpdataError
from erpdata.live.connectors.base import (
    OPERATORS,
    Answer,
    Connector,
    CrmConnector,
    CrmLink,
    CrmRecord,
    ErpActor,
    FieldInfo,
    Page,
    Restriction,
)
from erpdata.schema import ACTOR_TYPES, KINDS, fields, table_name
from erpdata.sql import sql_ident
from erpdata.workspace import Workspace

OUTBOX = "outbox"
#: The file of a CRM folder that lists the links the CRM holds, and its columns.
LINKS_FILE = "crm_links.csv"
LINK_COLUMNS = ("kind", "crm_id", "erp_actor_type", "erp_key")
_KIND_OF = {t: k for k, types in ACTOR_TYPES.items() for t in types}
#: The fields a free-text search looks in, per kind.
TEXT_FIELDS = {"company": ("id", "name", "vatno", "number1", "number2", "email", "phone",
                           "postalcity"),
               "person": ("id", "firstname", "lastname", "email", "phone_direct",
                          "phone_mobile"),
               "project": ("id", "name", "number")}


def _export(folder: Path, side: str, kind: str) -> Path | None:
    """The folder's export of ``side`` and ``kind`` (``erp_company.csv`` and the like)."""
    found = sorted(p for p in folder.glob(f"{side}_{kind}.*") if p.is_file())
    return found[0] if found else None


class _Folder:
    """The exports of one folder, loaded once into a scratch workspace by erpdata's loader."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._tmp = tempfile.TemporaryDirectory(prefix="erpdata-files-")
        self._ws: Workspace | None = None
        self._loaded: set[tuple[str, str]] = set()

    def table(self, side: str, kind: str) -> tuple[Workspace, str]:
        if not self.folder.is_dir():  # a folder that is gone is a failure, not "no records"
            raise ErpdataError(f"the folder {self.folder} does not exist")
        if self._ws is None:
            self._ws = Workspace.open(Path(self._tmp.name) / "scratch.duckdb")
        if kind != "company":  # persons and projects name their companies: those first
            self.table(side, "company")
        if (side, kind) not in self._loaded:
            path = _export(self.folder, side, kind)
            if path is not None:
                from erpdata.ingest.load import load_file

                load_file(self._ws, path, side=side, kind=kind, user="files-connector")
            self._loaded.add((side, kind))
        return self._ws, table_name(side, kind)  # type: ignore[arg-type]

    def append(self, name: str, header: list[str], rows: list[list[Any]]) -> Path:
        """Append rows to ``outbox/<name>.csv`` unless the same row is there already."""
        out = self.folder / OUTBOX / f"{name}.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        seen: set[tuple[str, ...]] = set()
        if out.exists():
            with out.open(encoding="utf-8", newline="") as f:
                seen = {tuple(r[1:]) for r in list(csv.reader(f))[1:]}
        new = [r for r in rows if tuple("" if v is None else str(v) for v in r) not in seen]
        with out.open("a", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            if f.tell() == 0:
                w.writerow(["written_at", *header])
            stamp = datetime.now().isoformat(timespec="seconds")
            w.writerows([[stamp, *r] for r in new])
        return out

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
        self._tmp.cleanup()


def _text(value: Any) -> str | None:
    """A cell as the text a connector carries; missing (None, NaN, NaT) stays None."""
    return None if value is None or pd.isna(value) else str(value)


class _FolderSystem:
    """What both sides' folder connectors share: the folder, its test, its scratch space."""

    type = "files"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files = _Folder(folder)

    def test_connection(self) -> Answer[str]:
        if not self.folder.is_dir():
            return Answer.failed(f"the folder {self.folder} does not exist",
                                 "files connection: url must be a folder")
        return Answer.good(f"export folder {self.folder}")

    def close(self) -> None:
        self._files.close()


class FilesConnector(_FolderSystem, Connector):
    """An ERP that is an export folder (``erp_<kind>.*``) and an outbox of change sets."""

    def actor_types(self) -> Answer[list[str]]:
        return Answer.good([t for k in KINDS for t in ACTOR_TYPES[k]])

    def fields(self, actor_type: str) -> Answer[list[FieldInfo]]:
        kind = _KIND_OF.get(actor_type)
        if kind is None:
            return Answer.failed(f"unknown actor type {actor_type!r}")
        return Answer.good([FieldInfo(f.name, f.label) for f in fields("erp", kind)
                            if f.name not in ("actor_type", "parent_key", "parent_actor_type",
                                              "last_modified")])

    def searchable_fields(self, actor_type: str) -> Answer[list[str]]:
        info = self.fields(actor_type)
        return Answer.good([f.key for f in info.unwrap()]) if info.ok else Answer.failed(
            info.user_explanation)

    def _query(self, actor_type: str, where: str, params: list[Any], offset: int, limit: int
               ) -> Answer[Page[ErpActor]]:
        kind = _KIND_OF.get(actor_type)
        if kind is None:
            return Answer.failed(f"unknown actor type {actor_type!r}")
        try:
            ws, table = self._files.table("erp", kind)
            rows = ws.cursor().execute(  # where: _text / _condition over schema fields
                f"SELECT * FROM {table} WHERE actor_type = ? AND missing_since IS NULL "  # noqa: S608 - table: table(); where: built from schema fields, values bound as ?
                f"AND ({where}) ORDER BY id LIMIT {int(limit) + 1} OFFSET {int(offset)}",
                [actor_type, *params]).df()
        except ErpdataError as exc:
            return Answer.failed(f"the export of ERP {kind} records cannot be read",
                                 str(exc))
        actors = [self._actor(kind, r) for r in rows.head(limit).to_dict("records")]
        return Answer.good(Page(actors, len(rows) > limit))

    @staticmethod
    def _actor(kind: str, r: dict[str, Any]) -> ErpActor:
        names = [f.name for f in fields("erp", kind)
                 if f.name not in ("actor_type", "parent_key", "parent_actor_type",
                                   "last_modified")]
        modified = r.get("last_modified")
        return ErpActor(r["actor_type"], str(r["id"]), {n: _text(r.get(n)) for n in names},
                        last_modified=modified if isinstance(modified, datetime) else None,
                        parent_actor_type=r.get("parent_actor_type"),
                        parent_erp_key=r.get("parent_key"))

    def _text(self, actor_type: str, text: str) -> tuple[str, list[Any]]:
        """A free text found in any of the kind's :data:`TEXT_FIELDS`, case-insensitively."""
        if not text.strip():
            return "true", []
        cols = ", ".join(f"coalesce({c}, '')" for c in TEXT_FIELDS[_KIND_OF[actor_type]])
        return f"contains(lower(concat_ws(' ', {cols})), ?)", [text.strip().lower()]

    def search(self, actor_type: str, text: str = "", *, offset: int = 0, limit: int = 50
               ) -> Answer[Page[ErpActor]]:
        if actor_type not in _KIND_OF:
            return Answer.failed(f"unknown actor type {actor_type!r}")
        where, params = self._text(actor_type, text)
        return self._query(actor_type, where, params, offset, limit)

    def search_by_parent(self, actor_type: str, text: str, parent_actor_type: str,
                         parent_erp_key: str, *, offset: int = 0, limit: int = 50
                         ) -> Answer[Page[ErpActor]]:
        if actor_type not in _KIND_OF:
            return Answer.failed(f"unknown actor type {actor_type!r}")
        where, params = self._text(actor_type, text)
        return self._query(actor_type, f"parent_actor_type = ? AND parent_key = ? AND {where}",
                           [parent_actor_type, parent_erp_key, *params], offset, limit)

    def search_advanced(self, actor_type: str, restrictions: Sequence[Restriction], *,
                        offset: int = 0, limit: int = 50) -> Answer[Page[ErpActor]]:
        if actor_type not in _KIND_OF:
            return Answer.failed(f"unknown actor type {actor_type!r}")
        known_fields = {f.name for f in fields("erp", _KIND_OF[actor_type])}
        parts, params = ["true"], []
        for r in restrictions:
            column = {"parent_erp_key": "parent_key"}.get(r.field, r.field)
            if column not in known_fields:  # a field name becomes SQL text: schema fields only
                return Answer.failed(f"{r.field!r} is not a field of an ERP {actor_type}")
            sql = _condition(column, r.operator, list(r.values))
            if sql is None:
                known = sorted({o for ops in OPERATORS.values() for o in ops})
                return Answer.failed(f"operator {r.operator!r} is not one of "
                                     f"{', '.join(known)}")
            parts.append(sql[0])
            params += sql[1]
        return self._query(actor_type, " AND ".join(parts), params, offset, limit)

    def get(self, actor_type: str, erp_keys: Sequence[str]) -> Answer[list[ErpActor]]:
        keys = [str(k) for k in erp_keys]
        page = self._query(actor_type, "id IN (SELECT unnest(?::VARCHAR[]))", [keys], 0,
                           max(len(keys), 1))
        if not page.ok:
            return Answer.failed(page.user_explanation, page.tech_explanation)
        found = page.unwrap().items
        missing = sorted(set(keys) - {a.erp_key for a in found})
        if missing:
            return Answer("warning", found, f"not in the export: {', '.join(missing)}")
        return Answer.good(found)

    def create(self, actors: Sequence[ErpActor], crm_keys: Sequence[str]
               ) -> Answer[list[ErpActor]]:
        rows = [[crm, a.actor_type, a.parent_actor_type, a.parent_erp_key, f, v]
                for a, crm in zip(actors, crm_keys, strict=True) for f, v in a.fields.items()]
        out = self._files.append("erp_creates", ["crm_key", "actor_type", "parent_actor_type",
                                                 "parent_erp_key", "field", "value"], rows)
        return Answer("ok_with_info", list(actors),
                      f"written to {out}: the ERP's import creates them; their keys come "
                      "with the next export")

    def save(self, actors: Sequence[ErpActor]) -> Answer[list[ErpActor]]:
        rows = [[a.actor_type, a.erp_key, f, v] for a in actors for f, v in a.fields.items()]
        out = self._files.append("erp_updates", ["actor_type", "erp_key", "field", "value"],
                                 rows)
        return Answer("ok_with_info", list(actors), f"written to {out}")

    def changed_since(self, actor_type: str, since: datetime | None
                      ) -> Answer[list[ErpActor]]:
        page = self._query(actor_type, "true" if since is None else
                           "TRY_CAST(last_modified AS TIMESTAMP) >= ?",
                           [] if since is None else [since], 0, 10_000_000)
        if not page.ok:
            return Answer.failed(page.user_explanation, page.tech_explanation)
        return Answer.good(page.unwrap().items)


def _condition(column: str, operator: str, values: list[str]) -> tuple[str, list[Any]] | None:
    """SQL for one advanced-search restriction (text compared case-insensitively)."""
    col = f"lower(CAST({sql_ident(column)} AS VARCHAR))"
    v = [str(x).lower() for x in values]
    simple = {"=": (f"{col} = ?", v[:1]), "isnot": (f"{col} IS DISTINCT FROM ?", v[:1]),
              "!=": (f"{col} IS DISTINCT FROM ?", v[:1]),
              "begins": (f"starts_with({col}, ?)", v[:1]),
              "notbegins": (f"NOT starts_with({col}, ?)", v[:1]),
              "contains": (f"contains({col}, ?)", v[:1]),
              "notcontains": (f"NOT contains({col}, ?)", v[:1]),
              "ends": (f"ends_with({col}, ?)", v[:1]),
              "notends": (f"NOT ends_with({col}, ?)", v[:1]),
              "between": (f"{col} BETWEEN ? AND ?", v[:2]),
              "oneof": (f"{col} IN (SELECT unnest(?::VARCHAR[]))", [v]),
              "notoneof": (f"{col} NOT IN (SELECT unnest(?::VARCHAR[]))", [v]),
              ">": (f"{col} > ?", v[:1]), "<": (f"{col} < ?", v[:1]),
              ">=": (f"{col} >= ?", v[:1]), "<=": (f"{col} <= ?", v[:1]),
              "after": (f"{col} > ?", v[:1]), "before": (f"{col} < ?", v[:1]),
              "afterOrEqual": (f"{col} >= ?", v[:1]), "beforeOrEqual": (f"{col} <= ?", v[:1])}
    return simple.get(operator)


class FilesCrmConnector(_FolderSystem, CrmConnector):
    """A CRM that is an export folder (``crm_<kind>.*``) and an outbox of change sets."""

    def records(self, kind: str, since: datetime | None = None) -> Answer[list[CrmRecord]]:
        try:
            ws, table = self._files.table("crm", kind)
            rows = ws.cursor().execute(f"SELECT * FROM {table} WHERE missing_since IS NULL "  # noqa: S608 - table: table() from SIDES and KINDS
                                       "ORDER BY id").df()
        except ErpdataError as exc:
            return Answer.failed(f"the export of CRM {kind} records cannot be read", str(exc))
        names = [f.name for f in fields("crm", kind)]
        return Answer.good([CrmRecord(kind, str(r["id"]), {n: _text(r.get(n)) for n in names})
                            for r in rows.to_dict("records")])

    def save(self, records: Sequence[CrmRecord]) -> Answer[list[CrmRecord]]:
        rows = [[r.kind, r.crm_id, f, v] for r in records for f, v in r.fields.items()]
        out = self._files.append("crm_updates", ["kind", "crm_id", "field", "value"], rows)
        return Answer("ok_with_info", list(records), f"written to {out}")

    def connect(self, kind: str, crm_id: str, erp_actor_type: str, erp_key: str,
                values: dict[str, str | None]) -> Answer[bool]:
        out = self._files.append("links", ["kind", "crm_id", "erp_actor_type", "erp_key"],
                                 [[kind, crm_id, erp_actor_type, erp_key]])
        return Answer("ok_with_info", True, f"written to {out}")

    def disconnect(self, kind: str, crm_id: str) -> Answer[bool]:
        out = self._files.append("unlinks", ["kind", "crm_id"], [[kind, crm_id]])
        return Answer("ok_with_info", True, f"written to {out}")

    def create_erp_actor(self, kind: str, crm_id: str, erp_actor_type: str,
                         values: dict[str, str | None]) -> Answer[ErpActor]:
        return Answer.failed("a CRM export folder cannot create ERP actors: create them "
                             "through the ERP connection")

    def links(self, kind: str) -> Answer[list[CrmLink]]:
        """The links listed in the folder's ``crm_links.csv`` (the columns of the outbox's
        ``links.csv``: ``kind, crm_id, erp_actor_type, erp_key``), those of ``kind``. No such
        file is an error: an export folder that lists no links says nothing about them."""
        path = self.folder / LINKS_FILE
        if not path.is_file():
            return Answer.failed(f"the folder {self.folder} has no {LINKS_FILE}: export the "
                                 "CRM's links there (columns " + ", ".join(LINK_COLUMNS) + ")",
                                 code="no_links_file")
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            return Answer.failed(f"{path} cannot be read as CSV", str(exc))
        lacking = [c for c in LINK_COLUMNS if c not in table.columns]
        if lacking:
            return Answer.failed(f"{path}: no column {', '.join(map(repr, lacking))} "
                                 f"(expected {', '.join(LINK_COLUMNS)})")
        table = table[list(LINK_COLUMNS)].apply(lambda col: col.str.strip())
        blank = table.eq("").any(axis=1)
        if blank.any():
            row = int(blank.to_numpy().argmax())
            col = LINK_COLUMNS[int(table.iloc[row].eq("").to_numpy().argmax())]
            return Answer.failed(f"{path}, row {row + 2}, column {col!r}: empty")
        mine = table[table["kind"] == kind]
        return Answer.good([CrmLink(c, t, k) for c, t, k in zip(
            mine["crm_id"], mine["erp_actor_type"], mine["erp_key"], strict=True)])
