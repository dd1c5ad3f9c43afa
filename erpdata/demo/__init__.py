"""The demo: a deterministic, realistic SuperOffice CRM + ERP pair with the truth between them.

Why it exists: the workbench needs data to be tried on before anyone trusts it with real
exports, and the matching engine needs a benchmark whose answer is known. The demo is both:
:func:`build_demo` fills an empty workspace with it (the app's embedded default workspace), and
``truth.csv`` says which CRM record is which ERP actor, so a run can be scored.

What it models (one synthetic "real world" company seen through two systems):

* Companies in NO, SE, DK, FI, NL, DE and UK with their legal forms, names built from surnames,
  places, brand words and industry words of each language, street addresses and postcodes in
  each country's format, local phone formats, e-mail/web domains and organisation or VAT
  numbers with valid check digits (NO orgnr, SE organisationsnummer, DK CVR, FI Y-tunnus,
  NL BTW, DE USt-IdNr, GB VAT). Persons and projects hang under the companies.
* The CRM export (SuperOffice style: ``;``, UTF-8 with BOM, Norwegian headers) and the ERP
  export (``,``, UTF-8, English headers, customer / supplier / partner actors) differ the way
  real systems do: legal forms abbreviated, expanded, dropped or changed ("Aksjeselskap" vs
  "AS"), " og " written " & ", typos (swapped, dropped, doubled letters), ASCII-only spelling,
  upper case, truncated names, companies that moved, changed or differently formatted phones,
  invoice e-mail addresses, empty fields, VAT numbers written as "NO 123 456 789 MVA" or
  "SE556...01", ERP-only and CRM-only records, and CRM duplicates (one company entered twice;
  both CRM ids point at the same ERP actor in the truth).

Scale: nothing loops over records. Random choices are numpy arrays (one generator stream per
purpose, seeded from ``(seed, purpose)``), vocabulary lookups are index arrays taken from Arrow
arrays, and strings are assembled by DuckDB SQL projections, which keep row order. The same
``(size, seed)`` gives byte-identical files; 1,000,000 companies per side take seconds.

Layout, one concept per module (import the API from ``erpdata.demo``, not from its modules):

* ``data/*.json``: the vocabulary, one file per country and ``common.json``
  (``data/README.md`` says what each field is), read by :mod:`~erpdata.demo.vocabulary`.
* :mod:`~erpdata.demo.checkdigits`: organisation and VAT numbers with valid check digits.
* :mod:`~erpdata.demo.generator`: the synthetic world and each side's drift choices.
* :mod:`~erpdata.demo.render`: the DuckDB SQL that turns them into text (formats, typos).
* :mod:`~erpdata.demo.exports`: the export layout, :func:`generate` and :func:`write_exports`.
* :mod:`~erpdata.demo.build`: :func:`build_demo`.

Public API: :func:`generate` (the records as DataFrames), :func:`write_exports` (the export files
plus ``truth.csv``) and :func:`build_demo` (exports loaded into a workspace through
:func:`erpdata.ingest.load.load_file`).
"""

from erpdata.demo.build import DemoSummary, build_demo
from erpdata.demo.build import default_export_dir as default_export_dir
from erpdata.demo.checkdigits import ORG_RULES, org_numbers
from erpdata.demo.exports import (
    DEFAULT_SEED,
    DEFAULT_SIZE,
    EXPORT_FILES,
    EXPORT_HEADERS,
    LOAD_ORDER,
    DemoFiles,
    generate,
    write_exports,
)
from erpdata.demo.vocabulary import COUNTRIES as COUNTRIES

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_SIZE",
    "EXPORT_FILES",
    "EXPORT_HEADERS",
    "LOAD_ORDER",
    "DemoFiles",
    "DemoSummary",
    "build_demo",
    "generate",
    "write_exports",
]

# Also read from here, outside __all__ as before the split: COUNTRIES, default_export_dir (the
# workbench), and the check-digit rules and their generator under their old names (tests/demo).
_ORG_RULES = ORG_RULES
_org_numbers = org_numbers
