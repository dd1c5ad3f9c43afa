"""The demo's outputs: the export files (their layout) and the records as DataFrames.

Why a fixed layout: the files are what a steward's real exports look like, so :func:`build_demo
<erpdata.demo.build_demo>` loads them through the same :func:`erpdata.ingest.load.load_file` as
real files: the CRM's SuperOffice style (``;``, UTF-8 with BOM, Norwegian headers) and the
ERP's (``,``, UTF-8, English headers). The headers are what the synonyms in
:mod:`erpdata.schema` map; they are the interface the tests check, so they stay code here, next
to the ``COPY`` that writes them, not in the vocabulary files.

SQL built here (ruff S608): the ``COPY`` reads the generator's query (from the demo's own SQL);
export headers are quoted by :func:`~erpdata.sql.sql_ident` and the target path by
:func:`~erpdata.sql.sql_text`. Nothing from a user or a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from erpdata.demo.generator import Generator, TableKey, registered
from erpdata.progress import Progress
from erpdata.sql import scratch, sql_ident, sql_text

DEFAULT_SIZE = 2000
DEFAULT_SEED = 42

# =============================================================================================
# Export layout: canonical column -> header, per file. The headers are what the synonyms in
# erpdata.schema map (the CRM id and the person's company id included); the columns without a
# canonical field (our_contact, registered, ...) are kept by ingest as ``extra``.
# =============================================================================================

EXPORT_FILES: dict[TableKey, str] = {
    ("crm", "company"): "crm_company.csv",
    ("crm", "person"): "crm_person.csv",
    ("crm", "project"): "crm_project.csv",
    ("erp", "company"): "erp_company.csv",
    ("erp", "person"): "erp_person.csv",
    ("erp", "project"): "erp_project.csv",
    ("truth", "all"): "truth.csv",
}

#: Order in which :func:`build_demo` loads the exports (parents before children).
LOAD_ORDER: tuple[TableKey, ...] = (
    ("crm", "company"), ("crm", "person"), ("crm", "project"),
    ("erp", "company"), ("erp", "person"), ("erp", "project"),
)

EXPORT_HEADERS: dict[TableKey, dict[str, str]] = {
    ("crm", "company"): {
        "id": "Firma-ID", "name": "Firmanavn", "department": "Avdeling", "vatno": "Org.nr",
        "number1": "Kode", "number2": "Nummer", "phone": "Telefon", "email": "E-post",
        "url": "Hjemmeside", "streetad1": "Besøksadresse", "streetzip": "Besøkspostnr",
        "streetcity": "Besøkssted", "postalad1": "Postadresse", "postalzip": "Postnr",
        "postalcity": "Poststed", "country": "Land", "category": "Kategori",
        "our_contact": "Vår kontakt", "registered": "Registrert",
    },
    ("crm", "person"): {
        "id": "Person-ID", "company_id": "Firma-ID", "firstname": "Fornavn",
        "middlename": "Mellomnavn", "lastname": "Etternavn", "title": "Tittel",
        "position": "Stilling", "email": "E-post", "phone_direct": "Telefon",
        "phone_mobile": "Mobil", "registered": "Registrert",
    },
    ("crm", "project"): {
        "id": "Prosjekt-ID", "company_id": "Firma-ID", "name": "Prosjektnavn",
        "number": "Prosjektnummer", "text": "Beskrivelse", "enddate": "Sluttdato",
        "status": "Status", "project_type": "Prosjekttype", "project_manager": "Prosjektleder",
    },
    ("erp", "company"): {
        "id": "ID", "actor_type": "Type", "name": "Name", "vatno": "VAT No",
        "number1": "Short Name", "number2": "Account Number", "phone": "Phone",
        "email": "E-mail", "url": "Website", "streetad1": "Street Address",
        "streetzip": "Street Postcode", "streetcity": "Street City",
        "postalad1": "Postal Address", "postalzip": "Postcode", "postalcity": "City",
        "country": "Country", "category": "Customer Group", "currency": "Currency",
        "payment_terms": "Payment Terms", "last_modified": "Last Modified",
    },
    ("erp", "person"): {
        "id": "ID", "parent_key": "Company ID", "parent_actor_type": "Parent Type",
        "firstname": "First Name", "lastname": "Last Name", "title": "Title",
        "email": "E-mail", "phone_direct": "Phone", "phone_mobile": "Mobile",
        "last_modified": "Last Modified",
    },
    ("erp", "project"): {
        "id": "ID", "parent_key": "Customer ID", "parent_actor_type": "Parent Type",
        "number": "Project No", "name": "Project Name", "text": "Description",
        "enddate": "End Date", "status": "Status", "budget": "Budget",
        "last_modified": "Last Modified",
    },
    ("truth", "all"): {
        "kind": "kind", "crm_id": "crm_id", "erp_actor_type": "erp_actor_type",
        "erp_id": "erp_id",
    },
}

_DELIMITERS: dict[str, str] = {"crm": ";", "erp": ",", "truth": ","}
_BOM = "\ufeff"  # SuperOffice writes UTF-8 with a byte order mark; see _copy_sql

# =============================================================================================
# Writing them
# =============================================================================================


def generate(size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> dict[TableKey, pd.DataFrame]:
    """The demo records as DataFrames keyed ``(side, kind)``, and the truth as ``("truth", "all")``.

    Each frame has the canonical column names of :mod:`erpdata.schema` (``id`` first; ERP
    companies have ``actor_type``, ERP persons and projects ``parent_key`` and
    ``parent_actor_type``, CRM persons and projects ``company_id``) plus the export's extra
    columns (see :data:`EXPORT_HEADERS`). Values are strings exactly as the export files hold
    them (dates as written; an empty cell is missing: ``pd.isna``). Rows are in file order (by
    id). The truth frame has ``kind, crm_id, erp_actor_type, erp_id``.

    Meant for tests and small sizes; for large sizes use :func:`write_exports`, which streams
    each table to its file without building DataFrames.
    """
    out: dict[TableKey, pd.DataFrame] = {}
    with scratch() as con:
        for query in Generator(con, size, seed).queries():
            with registered(con, query.src):
                out[query.key] = con.sql(query.sql).df()
    return out


@dataclass
class DemoFiles:
    """The files :func:`write_exports` wrote."""

    folder: Path
    files: dict[TableKey, Path]  # (side, kind) -> export file
    truth: Path
    rows: dict[TableKey, int] = field(default_factory=dict)  # rows per file (truth included)


def _copy_sql(key: TableKey, sql: str, path: Path) -> str:
    """``COPY`` of a query's rows to its export file, headers renamed; CRM files get a BOM."""
    headers = EXPORT_HEADERS[key]
    cols = []
    for i, (column, header) in enumerate(headers.items()):
        label = (_BOM + header) if (i == 0 and key[0] == "crm") else header
        cols.append(f"{column} AS {sql_ident(label)}")
    return (f"COPY (SELECT {', '.join(cols)} FROM ({sql})) TO {sql_text(str(path))} "  # noqa: S608 - columns from EXPORT_HEADERS, headers via sql_ident, path via sql_text
            f"(FORMAT csv, HEADER, DELIMITER '{_DELIMITERS[key[0]]}', QUOTE '\"', ESCAPE '\"')")


def write_exports(folder: Path | str, size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED, *,
                  progress: Progress | None = None) -> DemoFiles:
    """Write the six demo exports and ``truth.csv`` into ``folder`` (created if needed).

    CRM files: ``;``-separated UTF-8 with BOM and Norwegian headers (SuperOffice style); ERP
    files: ``,``-separated UTF-8 with English headers; ``truth.csv``: ``kind,crm_id,
    erp_actor_type,erp_id``. Values holding the delimiter or quotes are quoted (RFC 4180).
    ``progress`` gets ``(label, fraction)`` per table group.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[TableKey, Path] = {}
    rows: dict[TableKey, int] = {}
    with scratch() as con:
        for step, query in enumerate(Generator(con, size, seed).queries()):
            path = folder / EXPORT_FILES[query.key]
            with registered(con, query.src):
                con.execute(_copy_sql(query.key, query.sql, path))
            written[query.key] = path
            rows[query.key] = query.src.num_rows
            if progress:
                progress(f"wrote {path.name}", (step + 1) / len(EXPORT_FILES))
    truth = written.pop(("truth", "all"))
    return DemoFiles(folder, written, truth, rows)
