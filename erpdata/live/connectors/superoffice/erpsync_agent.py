"""The vocabulary of SuperOffice's ErpSync agent and its link tables: actor type names and
numbers, the linked records' table ids, the agent's field keys, labels and access, its
multi-language texts, and :class:`SuperOfficeLink`. Apart from the connector because these are
SuperOffice's names for links, not calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from erpdata.live.connectors.base import CrmLink
from erpdata.schema import fields

#: erpdata's lower-case actor types -> SuperOffice ``ErpActorType`` names (guide a). Employee
#: and Sale exist in SuperOffice but ERP Sync does not sync them, so erpdata has no such type.
ERP_ACTOR_TYPE: dict[str, str] = {
    "customer": "Customer",
    "supplier": "Supplier",
    "partner": "Partner",
    "person": "Person",
    "project": "Project",
}
#: ``ErpActorType`` enum values (database enum ``ErpActorType``), as the Dynamic archive may
#: give them as numbers.
_ERP_ACTOR_TYPE_NUMBER: dict[int, str] = {1: "customer", 2: "supplier", 3: "partner",
                                          4: "person", 5: "project"}
#: Database table numbers of the linked records (``ErpInternalKey.tableId``): contact 5,
#: person 6, project 11 (SuperOffice database reference).
TABLE_ID: dict[str, int] = {"company": 5, "person": 6, "project": 11}

_AGENT = "Agents/ErpSync"
_ALREADY_LINKED = re.compile(r"already\s+(?:been\s+)?(?:linked|connected)|already\s+exists"
                             r"|duplicate|unique", re.IGNORECASE)
_US_TEXT = re.compile(r'US:"([^"]*)"')


def _localised(text: Any) -> str:
    """The English part of a multi-language explanation (``US:"…"NO:"…"``), else the text."""
    if not isinstance(text, str):
        return ""
    match = _US_TEXT.search(text)
    return match.group(1) if match else text


def _sync_key(kind: str, name: str) -> str | None:
    """The SuperOffice sync field key of a canonical field (``vatno`` -> ``VATNO``); a name
    that is not a canonical field is taken as a key already; structural fields have none."""
    for f in fields("crm", kind):  # type: ignore[arg-type]
        if f.name == name:
            return f.sync_key
    return name


def _label(kind: str, name: str) -> str:
    for f in fields("crm", kind):  # type: ignore[arg-type]
        if f.name == name:
            return f.label
    return name


def _access(field_info: Mapping[str, Any]) -> str:
    """A ``FieldMetadataInfo.Access`` as ``normal``, ``mandatory`` or ``readonly``; the agent
    documents it as a string (``"Mandatory"``); the enum number (1, 2) is read too."""
    value = field_info.get("Access")
    if isinstance(value, int) and not isinstance(value, bool):
        return {1: "mandatory", 2: "readonly"}.get(value, "normal")
    text = str(value or "").strip().lower()
    return text if text in ("mandatory", "readonly") else "normal"


@dataclass(frozen=True)
class SuperOfficeLink(CrmLink):
    """A link SuperOffice holds (:class:`CrmLink`), with its ``ErpInternalKey`` id: the id
    ``ForceResync`` takes (:meth:`SuperOfficeConnector.force_resync`)."""

    internal_key_id: int | None = None
