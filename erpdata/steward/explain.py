"""Why a pair scored as it did, as a waterfall a steward can read: field by field, the two
values, how well they agree, the weight that adds, and the probability so far.

The matcher stores per pair the prior and, per compared field, the agreement level and the
match weight (``log2`` of how much likelier that agreement is between a match than between two
random records; see :mod:`erpdata.matching.model`). Adding them gives the pair's evidence; the
probability of evidence ``w`` is ``1 / (1 + 2^-w)``. Log-odds mean nothing to a steward, so each
step here carries the probability it has reached. The stored probability then also weighs the
competitors (one-to-one: the CRM record's other ERP candidates, and other CRM records that
want the same ERP record), so the last step names them and says what they changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from erpdata.errors import ErpdataError
from erpdata.schema import Kind, check_side_kind, display_name_sql
from erpdata.steward.decisions import split_erp_key
from erpdata.steward.review import field_labels
from erpdata.workspace import Workspace

#: Agreement levels in a steward's words where the matcher's label is not plain enough.
LEVEL_WORDS = {"missing": "no value on one side", "exact": "same once tidied"}
#: What the derived ``parent`` comparison compares, per kind.
PARENT_LABEL = {"person": "Company", "project": "Company"}


class ExplainError(ErpdataError):
    """A pair that has no stored explanation (not suggested, or never matched)."""


def probability(weight: float) -> float:
    """The probability of a match weight (log2 odds)."""
    return 1.0 / (1.0 + 2.0 ** (-max(min(weight, 60.0), -60.0)))


@dataclass(frozen=True)
class Step:
    """One bar of the waterfall: a field (or the starting point) and what it adds."""

    label: str
    crm_value: str | None
    erp_value: str | None
    agreement: str
    weight: float
    #: The probability once this step is added (all steps before it included).
    probability: float


@dataclass(frozen=True)
class Waterfall:
    """A pair's score, step by step; ``probability`` is the stored one."""

    steps: list[Step]
    #: What the evidence alone adds up to (the last step's probability).
    alone: float
    probability: float
    #: The CRM record's other ERP candidates, and the other CRM records that have this ERP
    #: record as a candidate: who the one-to-one weighing shares the chance with.
    other_erp: int
    other_crm: int

    def frame(self) -> pd.DataFrame:
        """The steps as a table: ``Field, CRM, ERP, Agreement, Weight, Probability``."""
        return pd.DataFrame({
            "Field": [s.label for s in self.steps],
            "CRM": pd.Series([s.crm_value for s in self.steps], dtype=object),
            "ERP": pd.Series([s.erp_value for s in self.steps], dtype=object),
            "Agreement": [s.agreement for s in self.steps],
            "Weight": [round(s.weight, 2) for s in self.steps],
            "Probability": [round(s.probability, 4) for s in self.steps]})

    def summary(self) -> str:
        """The last step in words: what the fields add up to, and what the competitors did."""
        text = f"The fields add up to {self.alone:.1%}."
        if abs(self.probability - self.alone) < 0.0005:
            return text + f" The pair's probability is {self.probability:.1%}."
        who = []
        if self.other_erp:
            who.append(f"{self.other_erp} other ERP candidate(s) of this CRM record")
        if self.other_crm:
            who.append(f"{self.other_crm} other CRM record(s) that want this ERP record")
        weighed = (" and ".join(who) if who else "how many CRM records have a match at all")
        direction = "lowers" if self.probability < self.alone else "raises"
        return (text + f" Weighing {weighed} (a record takes one match) {direction} it to "
                f"{self.probability:.1%}.")


def _values(ws: Workspace, kind: Kind, crm_id: str, actor: str, erp_id: str
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both records as dicts, with ``parent``: the name of the company each one belongs to."""
    cur = ws.cursor()

    def one(sql: str, params: list[Any]) -> dict[str, Any]:
        rel = cur.execute(sql, params)
        row = rel.fetchone()
        cols = [d[0] for d in rel.description or []]
        return dict(zip(cols, row, strict=True)) if row else {}

    crm = one(f"SELECT * FROM crm_{kind} WHERE id = ?", [crm_id])  # noqa: S608 - kind checked by check_side_kind() in waterfall(); ids bound as ?
    erp = one(f"SELECT * FROM erp_{kind} WHERE actor_type = ? AND id = ?", [actor, erp_id])  # noqa: S608 - kind checked by check_side_kind() in waterfall(); ids bound as ?
    if kind != "company":
        crm["parent"] = one(f"SELECT {display_name_sql('company', 'c')} AS n FROM crm_company c"  # noqa: S608 - fixed company name SQL from display_name_sql(); id bound as ?
                            " WHERE c.id = ?", [crm.get("company_id")]).get("n")
        erp["parent"] = one(f"SELECT {display_name_sql('company', 'e')} AS n FROM erp_company e"  # noqa: S608 - fixed company name SQL from display_name_sql(); keys bound as ?
                            " WHERE e.actor_type = ? AND e.id = ?",
                            [erp.get("parent_actor_type"), erp.get("parent_key")]).get("n")
    return crm, erp


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value).strip() or None


def waterfall(ws: Workspace, kind: str, crm_id: str, erp: str) -> Waterfall:
    """The waterfall of one suggested pair (``erp`` as ``actor_type:id``)."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    actor, erp_id = split_erp_key(erp)
    cur = ws.cursor()
    row = cur.execute("SELECT x.explanation, s.probability FROM suggestions s "
                      "JOIN explanations x USING (kind, crm_id, erp_actor_type, erp_id) "
                      "WHERE s.kind = ? AND s.crm_id = ? AND s.erp_actor_type = ? "
                      "AND s.erp_id = ?", [k, crm_id, actor, erp_id]).fetchone()
    if row is None or row[0] is None:
        raise ExplainError(f"CRM {kind} {crm_id} and ERP {actor} {erp_id} are not a suggested "
                           "pair: run matching to score them")
    explanation: dict[str, Any] = json.loads(row[0])
    (other_erp, other_crm) = cur.execute(
        """SELECT count(*) FILTER (WHERE crm_id = ? AND NOT (erp_actor_type = ? AND erp_id = ?)),
                  count(*) FILTER (WHERE crm_id <> ? AND erp_actor_type = ? AND erp_id = ?)
           FROM suggestions WHERE kind = ?""",
        [crm_id, actor, erp_id, crm_id, actor, erp_id, k]).fetchone() or (0, 0)
    crm, erp_rec = _values(ws, k, crm_id, actor, erp_id)
    labels = {**field_labels(k), **PARENT_LABEL}
    total = float(explanation.get("prior", 0.0))
    steps = [Step("Starting point: how often two records match", None, None, "", total,
                  probability(total))]
    for name, part in explanation.items():
        if name == "prior" or not isinstance(part, dict):
            continue
        weight = float(part.get("weight") or 0.0)
        total += weight
        level = str(part.get("level", ""))
        steps.append(Step(labels.get(name, name), _text(crm.get(name)),
                          _text(erp_rec.get(name)), LEVEL_WORDS.get(level, level), weight,
                          probability(total)))
    return Waterfall(steps, probability(total), float(row[1]), int(other_erp), int(other_crm))
