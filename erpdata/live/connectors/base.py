"""The connector contract: how erpdata talks to a live system, modelled on SuperOffice's
``IErpConnector`` (domain guide, d1) and its ``PluginResponseInfo``.

Why answers and not exceptions: a search that failed must never look like a search that found
nothing. Every call returns an :class:`Answer` with a state (ok, ok_with_info, warning, error),
an explanation for the steward and one for the technician, and whether trying again may help
(timeouts, lost connections and 5xx answers may; a 4xx will not). Connectors do not raise for a
remote failure; :meth:`Answer.unwrap` turns an error into a :class:`ConnectorError` where the
caller wants one.

Records travel as :class:`ErpActor`: the actor type, the ERP key, when it last changed, its
parent (persons and projects hang under a customer or supplier) and its field values, keyed by
erpdata's canonical ERP field names (``docs/FIELDS.md``), so that a live system and an export
file load the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Generic, Literal, TypeVar

from erpdata.errors import ErpdataError

T = TypeVar("T")
State = Literal["ok", "ok_with_info", "warning", "error"]
STATES: tuple[State, ...] = ("ok", "ok_with_info", "warning", "error")


class ConnectorError(ErpdataError):
    """A connector call failed; carries the answer that says why."""

    def __init__(self, answer: Answer) -> None:  # type: ignore[type-arg]
        self.answer = answer
        tech = f" ({answer.tech_explanation})" if answer.tech_explanation else ""
        super().__init__(f"{answer.user_explanation}{tech}")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """What a connector call returns (``PluginResponseInfo``): a value and how it went."""

    state: State
    value: T | None = None
    user_explanation: str = ""
    tech_explanation: str = ""
    error_code: str = ""
    retryable: bool = False

    @property
    def ok(self) -> bool:
        """True unless the call failed; a warning is ok, with something to read."""
        return self.state != "error"

    def said(self) -> str:
        """The value and the explanation, each once: a warning carries both (what answered,
        and what is missing), an error only its explanation."""
        parts = [str(x) for x in (self.value, self.user_explanation) if x]
        return "; ".join(dict.fromkeys(parts))

    def unwrap(self) -> T:
        """The value, or :class:`ConnectorError` if the call failed."""
        if not self.ok:
            raise ConnectorError(self)
        return self.value  # type: ignore[return-value]

    @staticmethod
    def good(value: T, info: str = "") -> Answer[T]:
        return Answer("ok_with_info" if info else "ok", value, info)

    @staticmethod
    def warn(value: T, user: str, tech: str = "", *, code: str = "") -> Answer[T]:
        """Done, with something the steward should read (a key the system did not return)."""
        return Answer("warning", value, user, tech, code)

    @staticmethod
    def failed(user: str, tech: str = "", *, code: str = "", retryable: bool = False,
               value: T | None = None) -> Answer[T]:
        """Not done; ``value`` may hold what was done before the failure (a batch cut
        short)."""
        return Answer("error", value, user, tech, code, retryable)


FieldType = Literal["text", "integer", "double", "datetime", "checkbox", "list"]
Access = Literal["normal", "mandatory", "readonly"]


@dataclass(frozen=True)
class FieldInfo:
    """One field of an actor type (``FieldMetadataInfo``)."""

    key: str
    name: str
    type: FieldType = "text"
    access: Access = "normal"
    max_length: int = 0  # 0: unlimited
    list_name: str | None = None


@dataclass(frozen=True)
class ErpActor:
    """One record of a live system (``ErpActor``). ``erp_key`` is None before it is created."""

    actor_type: str
    erp_key: str | None
    fields: dict[str, str | None] = field(default_factory=dict)
    last_modified: datetime | None = None
    parent_actor_type: str | None = None
    parent_erp_key: str | None = None

    def with_key(self, key: str, last_modified: datetime | None = None) -> ErpActor:
        return replace(self, erp_key=key, last_modified=last_modified)


#: The operators of an advanced search (``SearchRestrictionInfo``), by value type.
OPERATORS: dict[str, tuple[str, ...]] = {
    "text": ("=", "begins", "contains", "ends", "notbegins", "notcontains", "notends", "isnot",
             "between"),
    "number": ("=", ">", "<", ">=", "<=", "!=", "between"),
    "checkbox": ("=",),
    "list": ("oneof", "notoneof"),
    "datetime": ("=", "before", "after", "beforeOrEqual", "afterOrEqual", "between"),
}


@dataclass(frozen=True)
class Restriction:
    """One criterion of an advanced search: ``field operator values``. The special fields
    ``parent_erp_key`` and ``parent_actor_type`` restrict to one parent."""

    field: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Page(Generic[T]):
    """``limit`` records from ``offset``; ``more``: whether another page follows."""

    items: list[T]
    more: bool


class Connector(ABC):
    """A live ERP (or the files that stand for one). One instance per connection; it may keep
    a session. Every method returns an :class:`Answer` and never raises for a remote failure.
    """

    #: The connector type, as ``erpdata connect add --type`` names it.
    type: str = ""

    @abstractmethod
    def test_connection(self) -> Answer[str]:
        """Is the system reachable and the configuration valid? The value says what answered
        (say, "Tryton 8.2, database erp")."""

    @abstractmethod
    def actor_types(self) -> Answer[list[str]]:
        """The actor types this system supports (customer, supplier, partner, person,
        project)."""

    @abstractmethod
    def fields(self, actor_type: str) -> Answer[list[FieldInfo]]:
        """The fields of an actor type, keyed by erpdata's canonical names."""

    @abstractmethod
    def searchable_fields(self, actor_type: str) -> Answer[list[str]]:
        """The fields an advanced search may restrict."""

    @abstractmethod
    def search(self, actor_type: str, text: str = "", *, offset: int = 0, limit: int = 50
               ) -> Answer[Page[ErpActor]]:
        """Actors matching a free text (the connector decides how); an empty text lists all."""

    @abstractmethod
    def search_by_parent(self, actor_type: str, text: str, parent_actor_type: str,
                         parent_erp_key: str, *, offset: int = 0, limit: int = 50
                         ) -> Answer[Page[ErpActor]]:
        """:meth:`search` among the actors under one parent (a customer's persons)."""

    @abstractmethod
    def search_advanced(self, actor_type: str, restrictions: Sequence[Restriction], *,
                        offset: int = 0, limit: int = 50) -> Answer[Page[ErpActor]]:
        """Actors meeting every restriction (:data:`OPERATORS`)."""

    @abstractmethod
    def get(self, actor_type: str, erp_keys: Sequence[str]) -> Answer[list[ErpActor]]:
        """The actors with these keys, in one call; a key not found is left out, with a
        warning naming it."""

    @abstractmethod
    def create(self, actors: Sequence[ErpActor], crm_keys: Sequence[str]
               ) -> Answer[list[ErpActor]]:
        """Create actors (in one call where the system allows), each stamped with the CRM
        key it was created for. A create that is retried finds the actor made the first time
        (by that CRM key) instead of making a second one. Returns them with key and
        last_modified, in order."""

    @abstractmethod
    def save(self, actors: Sequence[ErpActor]) -> Answer[list[ErpActor]]:
        """Write the given field values of existing actors (one batch); returns them as
        saved, with their new last_modified."""

    @abstractmethod
    def changed_since(self, actor_type: str, since: datetime | None
                      ) -> Answer[list[ErpActor]]:
        """Every actor changed on or after ``since`` (all of them for None), including
        changes to its child records (addresses, contact details)."""

    def list_values(self, list_name: str) -> Answer[dict[str, str]]:
        """The items of an ERP list (key -> text); none by default."""
        return Answer.good({}, f"{self.type} has no list {list_name!r}")

    def close(self) -> None:  # noqa: B027 (most connectors hold nothing to release)
        """Release the session, if any."""


@dataclass(frozen=True)
class CrmRecord:
    """One record of a live CRM: its id, its field values keyed by erpdata's canonical CRM
    field names (a person's and a project's ``company_id`` among them) and when it changed."""

    kind: str
    crm_id: str
    fields: dict[str, str | None] = field(default_factory=dict)
    last_modified: datetime | None = None


@dataclass(frozen=True)
class CrmLink:
    """A link the CRM already holds: its record, and the ERP actor (erpdata's lower-case actor
    type and the ERP key) it is linked to in the connector's ERP connection."""

    crm_id: str
    erp_actor_type: str
    erp_key: str


class CrmConnector(ABC):
    """A live CRM (SuperOffice). The CRM holds the links: connecting, creating an ERP actor
    from a CRM record and breaking a link go through its ERP-sync agent (domain guide, d2)."""

    type: str = ""

    @abstractmethod
    def test_connection(self) -> Answer[str]:
        """Is the CRM reachable and the configuration valid?"""

    @abstractmethod
    def records(self, kind: str, since: datetime | None = None) -> Answer[list[CrmRecord]]:
        """Every company, person or project (``kind``), or those changed on or after
        ``since``; paged through the whole collection."""

    @abstractmethod
    def save(self, records: Sequence[CrmRecord]) -> Answer[list[CrmRecord]]:
        """Write the given field values of existing CRM records."""

    @abstractmethod
    def connect(self, kind: str, crm_id: str, erp_actor_type: str, erp_key: str,
                values: dict[str, str | None]) -> Answer[bool]:
        """Link a CRM record to an ERP actor, with the chosen values (``ConnectActor``)."""

    @abstractmethod
    def disconnect(self, kind: str, crm_id: str) -> Answer[bool]:
        """Remove a CRM record's link; nothing else changes (``BreakActorLink``)."""

    @abstractmethod
    def create_erp_actor(self, kind: str, crm_id: str, erp_actor_type: str,
                         values: dict[str, str | None]) -> Answer[ErpActor]:
        """Create an ERP actor from a CRM record and link them (``CreateErpActorFromCrm``).
        A CRM that does not say the new key answers a warning with ``erp_key`` None: look it
        up in the ERP."""

    def links(self, kind: str) -> Answer[list[CrmLink]]:
        """The links of ``kind`` the CRM holds for its ERP connection, so that a workspace
        starts from them (:func:`erpdata.live.adopt.adopt_links`). A CRM that cannot list them
        says so (an error, never an empty list)."""
        return Answer.failed(f"this {self.type or 'CRM'} connection cannot list the links "
                             "it holds", code="NOT_SUPPORTED")

    def close(self) -> None:  # noqa: B027 (most connectors hold nothing to release)
        """Release the session, if any."""


Factory = Callable[..., Connector | CrmConnector]
