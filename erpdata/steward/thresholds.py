"""The band thresholds: the lower limits of the auto and review bands a steward (an admin) may
fix per kind, stored in the workspace (``meta`` key ``thresholds.<kind>``) and audited. A limit
not fixed is the model's choice at every matching run; a fixed one applies from the next run of
that kind (:mod:`erpdata.matching.runs` reads them).
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from erpdata.errors import ErpdataError
from erpdata.roles import guarded, require_for
from erpdata.schema import check_side_kind
from erpdata.workspace import Workspace

#: The bands' lower limits a steward may fix per kind; a limit not fixed is the model's choice
#: (review at the best expected F1, auto at an expected precision of 0.99).
THRESHOLD_KEYS = ("auto", "review")


def thresholds(ws: Workspace, kind: str, con: duckdb.DuckDBPyConnection | None = None
               ) -> dict[str, float]:
    """The limits fixed for ``kind`` (``{}``: the model chooses both at every run)."""
    check_side_kind("crm", kind)
    row = (con or ws.cursor()).execute("SELECT value FROM meta WHERE key = ?",
                                       [f"thresholds.{kind}"]).fetchone()
    return json.loads(row[0]) if row else {}


@guarded
def save_thresholds(ws: Workspace, kind: str, *, auto: float | None = None,
                    review: float | None = None, user: str | None = None) -> dict[str, float]:
    """Fix (or, with None, free) the auto and review limits of ``kind``, audited; they apply
    from the next matching run of that kind. Admins only, like the mappings."""
    check_side_kind("crm", kind)
    new = {k: float(v) for k, v in (("auto", auto), ("review", review)) if v is not None}
    bad = [f"{k} {v}" for k, v in new.items() if not 0.0 < v <= 1.0]
    if bad:
        raise ErpdataError(f"thresholds are probabilities above 0 and at most 1, not "
                           f"{', '.join(bad)}")
    if "auto" in new and "review" in new and new["auto"] < new["review"]:
        raise ErpdataError(f"the auto limit ({new['auto']}) must not be below the review "
                           f"limit ({new['review']}): auto-accepted pairs are the surest ones")
    cur = ws.cursor()
    with ws.transaction(cur):
        who = require_for(ws, "save_thresholds", user, cur)
        before = thresholds(ws, kind, cur)
        cur.execute("DELETE FROM meta WHERE key = ?", [f"thresholds.{kind}"])
        if new:
            ws.set_meta(f"thresholds.{kind}", json.dumps(new), cur)
        cur.execute("INSERT INTO audit (logged_at, actor, action, kind, before_value, "
                    "after_value) VALUES (?, ?, 'thresholds', ?, ?, ?)",
                    [datetime.now(), who, kind, json.dumps(before), json.dumps(new)])
    return new


