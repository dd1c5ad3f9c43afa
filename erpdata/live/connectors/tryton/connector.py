"""The Tryton ERP connector: erpdata's connector contract (:mod:`erpdata.live.connectors.base`) over
Tryton's JSON-RPC, so that linking, creating and syncing are tested against a real ERP.

:class:`TrytonConnector` is the one public class. It is made of four parts, each a module of
its own so that each can be read (and changed) without the others:

* :mod:`.transport`: JSON-RPC over ``requests``: the session, the login (again once on a 401),
  the request counter and a failed :class:`~erpdata.live.connectors.base.Answer` for every way a
  call can fail;
* :mod:`.tryton_setup`: the categories and relation types the mapping needs, by the names the
  connection gives them, what ``test_connection`` checks and what ``ensure_setup`` creates;
* :mod:`.actor_mapping`: Tryton records <-> actors' canonical fields, and the write values;
* :mod:`.search_domains`: the search domains of actor types and restrictions, paging, and the
  reads (``search``, ``get``, ``changed_since``).

This module holds what ties them together: the contract's methods (creating by CRM key and
saving read-then-write are here, as they use every part) and :func:`_answering`.

Why this mapping (details and the reasons in ``docs/TRYTON.md``): Tryton has no customer or
supplier flag and no person/company distinction, so

* a **customer / supplier / partner** is a ``party.party`` in the party category "Customer",
  "Supplier" or both;
* a **person** is a ``party.party`` with a relation "Employee of" to its company (module
  ``party_relationship``); the first such relation gives its parent;
* a **project** is a ``project.work`` of type "project" whose ``party`` is the customer.

Those names are defaults: a Tryton set up in another language has its own ("Kunde",
"Leverandør", "Ansatt hos"), which a connection names in its options (:data:`NAME_OPTIONS`).
What a fresh database lacks, :meth:`TrytonConnector.ensure_setup` creates (``erpdata connect
setup NAME`` or the Settings page's button). The employee relation type is needed only when
persons are read or written, so a Tryton without it still syncs its companies.

ERP keys are Tryton ids as strings. ``last_modified`` is the latest ``write_date`` or
``create_date`` of the record and of its addresses, contact mechanisms and identifiers, in naive
UTC, because Tryton does not move a party's ``write_date`` when a child is written directly.

Every public method returns an :class:`~erpdata.live.connectors.base.Answer` and never raises for a
remote failure; the password appears in no explanation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import requests

from erpdata.live.connectors.base import (
    Answer,
    Connector,
    ErpActor,
    FieldInfo,
    Page,
    Restriction,
)
from erpdata.live.connectors.tryton.actor_mapping import (
    _FIELDS,
    _READ,
    _READONLY,
    COMPANY_TYPES,
    CRM_PREFIX,
    TRYTON_ACTOR_TYPES,
    TrytonMapping,
    _check_type,
    _crm_code,
    _default_type,
    _int_key,
    _model,
)
from erpdata.live.connectors.tryton.search_domains import _SEARCHABLE, TrytonSearch
from erpdata.live.connectors.tryton.transport import TrytonTransport, _bad_request, _Failure
from erpdata.live.connectors.tryton.tryton_setup import (
    CUSTOMER_CATEGORY,
    DEFAULT_COUNTRIES,
    EMPLOYEE_OF,
    EMPLOYER_OF,
    SUPPLIER_CATEGORY,
    TrytonSetup,
    _checked_names,
)

P = ParamSpec("P")
R = TypeVar("R")


def _answering(method: Callable[P, Answer[R]]) -> Callable[P, Answer[R]]:
    """Turn the internal failures of a public method into failed answers, because the contract
    forbids raising for remote failures (an answer of an unexpected shape is one too)."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Answer[R]:
        try:
            return method(*args, **kwargs)
        except _Failure as exc:
            return exc.answer
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            self = args[0]
            assert isinstance(self, TrytonConnector)
            return Answer.failed(
                "Tryton answered in a way the connector did not expect.",
                self._tryton.scrub(f"{type(exc).__name__}: {exc}"), code="unexpected")

    return wrapper


class TrytonConnector(Connector):
    """A live Tryton database over JSON-RPC: the contract's methods, over a transport (one
    ``requests.Session`` and one Tryton session of its own), a set-up, a mapping and a search,
    to which they delegate (see the module's docstring)."""

    type = "tryton"

    def __init__(self, url: str, database: str, user: str, password: str, *,
                 verify: bool = True, timeout: float = 30.0,
                 session: requests.Session | None = None,
                 customer_category: str = CUSTOMER_CATEGORY,
                 supplier_category: str = SUPPLIER_CATEGORY,
                 employee_relation: str = EMPLOYEE_OF, employer_relation: str = EMPLOYER_OF,
                 connection: str | None = None) -> None:
        """``customer_category`` … ``employer_relation``: the names of the party categories
        and relation types the mapping uses, as this Tryton calls them (a Norwegian one says
        "Kunde"). ``connection``: the erpdata connection's name, so that a message about a
        missing category can say which ``erpdata connect setup NAME`` creates it."""
        names = _checked_names(customer_category, supplier_category, employee_relation,
                               employer_relation)  # before a session is made
        self._tryton = TrytonTransport(url, database, user, password, verify=verify,
                                       timeout=timeout, session=session)
        self._setup = TrytonSetup(self._tryton, names, connection)
        self._mapping = TrytonMapping(self._tryton, self._setup)
        self._search = TrytonSearch(self._tryton, self._setup, self._mapping)

    def __repr__(self) -> str:  # never the password
        return f"TrytonConnector({self.url!r}, {self.database!r}, user={self.user!r})"

    @property
    def url(self) -> str:
        """The server's URL, without a trailing slash."""
        return self._tryton.url

    @property
    def database(self) -> str:
        return self._tryton.database

    @property
    def user(self) -> str:
        return self._tryton.user

    @property
    def names(self) -> dict[str, str]:
        """Connection option -> the name of the category or relation type in this Tryton."""
        return self._setup.names

    @property
    def connection(self) -> str | None:
        """The erpdata connection's name (None: not known), for the set-up hint."""
        return self._setup.connection

    @property
    def setup_hint(self) -> str:
        """How a steward creates what is missing: the CLI command of this connection, or
        the Settings page's button (both call :meth:`ensure_setup`)."""
        return self._setup.setup_hint

    # --- the contract: connection and metadata -----------------------------------------------

    @_answering
    def test_connection(self) -> Answer[str]:
        """Whether Tryton answers, has the database and takes the login; then whether it has
        what the mapping needs, each missing name said with the names Tryton has and both
        fixes (the set-up, or the connection's option). Why two levels: without the customer
        and supplier categories nothing can be synced (an error); without the employee
        relation type or a company for the user, companies still sync and only persons or
        projects wait (a warning)."""
        return self._setup.test_connection()

    @_answering
    def ensure_setup(self, *, company_name: str = "erpdata ERP company",
                     currency_code: str = "EUR",
                     countries: Mapping[str, str] = DEFAULT_COUNTRIES) -> Answer[list[str]]:
        """Create, where missing, what a fresh Tryton database lacks for this mapping: the
        party categories this connector names (``customer_category``, ``supplier_category``),
        the relation types ``employee_relation`` / ``employer_relation`` as each other's
        reverse, a company with its currency for the user (``project.work`` needs one) and the
        given countries. Idempotent: the value lists what was created, in words (empty: it
        was all there). Nothing that exists is renamed or re-linked: a relation type already
        linked to another reverse is left alone, and the answer says so (``ok_with_info``)."""
        return self._setup.ensure_setup(company_name=company_name, currency_code=currency_code,
                                        countries=countries)

    @_answering
    def actor_types(self) -> Answer[list[str]]:
        return Answer.good(list(TRYTON_ACTOR_TYPES))

    @_answering
    def fields(self, actor_type: str) -> Answer[list[FieldInfo]]:
        kind = _check_type(actor_type)
        found = list(_FIELDS[kind])
        if kind == "company":  # the category names this Tryton uses, not the defaults
            found[0] = replace(found[0], name=f"Actor type (categories "
                               f"{self.names['customer_category']}/"
                               f"{self.names['supplier_category']})")
        return Answer.good(found)

    @_answering
    def searchable_fields(self, actor_type: str) -> Answer[list[str]]:
        kind = _check_type(actor_type)
        return Answer.good([*_SEARCHABLE[kind], "parent_erp_key", "parent_actor_type"]
                           if kind != "company" else list(_SEARCHABLE[kind]))

    @_answering
    def list_values(self, list_name: str) -> Answer[dict[str, str]]:
        """``status`` (project statuses), ``country`` (ISO code -> name), ``actor_type``."""
        if list_name == "status":
            recs = self._tryton.search_read("project.work.status", [], ["name"])
            return Answer.good({r["name"]: r["name"] for r in recs})
        if list_name == "country":
            recs = self._tryton.search_read("country.country", [], ["code", "name"],
                                            order=[["code", "ASC"]])
            return Answer.good({r["code"]: r["name"] for r in recs if r.get("code")})
        if list_name == "actor_type":
            return Answer.good({t: t.capitalize() for t in COMPANY_TYPES})
        return Answer.good({}, f"tryton has no list {list_name!r}")

    # --- the contract: reading (:mod:`.search_domains`) --------------------------------------

    @_answering
    def search(self, actor_type: str, text: str = "", *, offset: int = 0, limit: int = 50
               ) -> Answer[Page[ErpActor]]:
        """Free text against Tryton's own record name search (a party's name, code,
        identifiers and contact values; a project's name and number); empty lists all."""
        return self._search.search(actor_type, text, offset=offset, limit=limit)

    @_answering
    def search_by_parent(self, actor_type: str, text: str, parent_actor_type: str,
                         parent_erp_key: str, *, offset: int = 0, limit: int = 50
                         ) -> Answer[Page[ErpActor]]:
        """Persons employed by, or projects of, one company. The parent's actor type is not
        checked: its key alone names it (every company type is a party)."""
        return self._search.search_by_parent(actor_type, text, parent_actor_type,
                                             parent_erp_key, offset=offset, limit=limit)

    @_answering
    def search_advanced(self, actor_type: str, restrictions: Sequence[Restriction], *,
                        offset: int = 0, limit: int = 50) -> Answer[Page[ErpActor]]:
        """Every restriction translated to a Tryton domain, except those on a person's
        first/middle/last name, which Tryton keeps as one name: these are checked in the
        connector, on the name split as :func:`.actor_mapping._split_name` does (then paging
        happens there too)."""
        return self._search.search_advanced(actor_type, restrictions, offset=offset,
                                            limit=limit)

    @_answering
    def get(self, actor_type: str, erp_keys: Sequence[str]) -> Answer[list[ErpActor]]:
        """Actors by key in one call, in the order asked. For a company type, any company
        type is found (the actor says which it is now): a customer that also became a supplier
        is still the same record."""
        return self._search.get(actor_type, erp_keys)

    @_answering
    def changed_since(self, actor_type: str, since: datetime | None
                      ) -> Answer[list[ErpActor]]:
        """Polls the records and, for parties, their addresses, contact mechanisms,
        identifiers and relations, because writing a child directly leaves the party's
        ``write_date`` alone."""
        return self._search.changed_since(actor_type, since)

    # --- the contract: writing ---------------------------------------------------------------

    @_answering
    def create(self, actors: Sequence[ErpActor], crm_keys: Sequence[str]
               ) -> Answer[list[ErpActor]]:
        """Create in one ``create`` call per Tryton model, each record carrying its CRM key
        (a party identifier ``CRM-<kind>-<key>``; for a project, a last comment line
        ``[CRM-project-<key>]``). Records already carrying the key are returned instead of
        created again, so a retry after a lost answer makes no duplicate. If Tryton refuses
        the batch, each record is created on its own to name the ones it refuses."""
        if len(actors) != len(crm_keys):
            raise _bad_request("create needs one CRM key per actor.")
        if len(set(crm_keys)) != len(crm_keys) or any(not str(k) for k in crm_keys):
            raise _bad_request("create needs distinct, non-empty CRM keys.")
        kinds = [_check_type(a.actor_type) for a in actors]
        notes: list[str] = []
        actors = [self._mapping.normalised(k, a, notes)
                  for k, a in zip(kinds, actors, strict=True)]
        codes = [_crm_code(k, str(c)) for k, c in zip(kinds, crm_keys, strict=True)]
        existing = self._existing(codes, kinds)
        new: dict[str, list[int]] = {"party.party": [], "project.work": []}
        for i, kind in enumerate(kinds):
            if codes[i] not in existing:
                new[_model(kind)].append(i)
        countries = self._mapping.countries(actors)
        errors: list[str] = []
        created: dict[int, int] = {}  # actor index -> Tryton id
        # every record's values first, so that bad input creates nothing at all
        vlists = {model: [self._mapping.create_values(kinds[i], actors[i], codes[i],
                                                      countries)
                          for i in indexes] for model, indexes in new.items() if indexes}
        for model, vlist in vlists.items():
            indexes = new[model]
            try:
                ids = self._tryton.call(model, "create", vlist)
                created.update(zip(indexes, ids, strict=True))
                continue
            except _Failure as exc:
                if exc.answer.retryable:
                    raise
                if len(indexes) == 1:
                    errors.append(f"CRM key {crm_keys[indexes[0]]}: "
                                  f"{exc.answer.user_explanation}")
                    continue
            for i, values in zip(indexes, vlist, strict=True):  # find the refused ones
                try:
                    created[i] = self._tryton.call(model, "create", [values])[0]
                except _Failure as one:
                    if one.answer.retryable:
                        raise
                    errors.append(f"CRM key {crm_keys[i]}: {one.answer.user_explanation}")
        if errors:
            done = len(created)
            return Answer.failed(
                f"Tryton refused {len(errors)} of {len(actors)} record(s); "
                f"{done} were created and a retry of the same create finds them. "
                + " ".join(errors), code="user_error")
        key_of = {i: existing.get(codes[i], created.get(i)) for i in range(len(actors))}
        result: list[ErpActor | None] = [None] * len(actors)
        for kind in dict.fromkeys(kinds):
            idx = [i for i in range(len(actors)) if kinds[i] == kind]
            fetched = self._search.fetch(kind,
                                         [k for i in idx if (k := key_of[i]) is not None])
            for i in idx:
                key = key_of[i]
                result[i] = fetched.get(key) if key is not None else None
                if result[i] is None:
                    raise _Failure(Answer.failed(
                        f"Record {key} made for CRM key {crm_keys[i]} is no {kind} in Tryton "
                        "(any more).", code="not_found"))
        return Answer.good([a for a in result if a is not None], "; ".join(notes))

    def _existing(self, codes: list[str], kinds: list[str]) -> dict[str, int]:
        """Records already created for these CRM codes (code -> Tryton id)."""
        found: dict[str, int] = {}
        party_codes = [c for c, k in zip(codes, kinds, strict=True) if k != "project"]
        if party_codes:
            for rec in self._tryton.search_read("party.identifier",
                                                [["code", "in", party_codes]],
                                                ["code", "party"]):
                found.setdefault(rec["code"], int(rec["party"]))
        if "project" in kinds:
            wanted = {c for c, k in zip(codes, kinds, strict=True) if k == "project"}
            for rec in self._tryton.search_read(
                    "project.work", [["type", "=", "project"],
                                     ["comment", "like", f"%[{CRM_PREFIX}project-%"]],
                    ["comment"]):
                _, code = self._mapping.split_comment(rec.get("comment"))
                if code in wanted:
                    found.setdefault(code, int(rec["id"]))
        return found

    @_answering
    def save(self, actors: Sequence[ErpActor]) -> Answer[list[ErpActor]]:
        """Write the given fields of existing actors: one read of their current state, then
        one ``write`` call per Tryton model with an (ids, values) pair per record. Read-only
        fields (codes, numbers, category) are not written; the answer says so when they
        differ. A company's categories change only when ``actor_type`` is among its fields."""
        if not actors:
            return Answer.good([])
        kinds = [_check_type(a.actor_type) for a in actors]
        notes: list[str] = []
        actors = [self._mapping.normalised(k, a, notes)
                  for k, a in zip(kinds, actors, strict=True)]
        ids = [_int_key(a.erp_key) for a in actors]
        if any(i is None for i in ids):
            raise _bad_request("save needs the ERP key of every actor.")
        countries = self._mapping.countries(actors)
        pairs: dict[str, list[Any]] = {"party.party": [], "project.work": []}
        for kind in dict.fromkeys(kinds):
            idx = [i for i, k in enumerate(kinds) if k == kind]
            fields = _READ[kind]
            raw = {int(r["id"]): r for r in self._tryton.search_read(
                _model(kind), [["id", "in", [ids[i] for i in idx]],
                               *self._search.type_domain(_default_type(kind), exact=False)],
                fields)}
            missing = [str(ids[i]) for i in idx if ids[i] not in raw]
            if missing:
                raise _Failure(Answer.failed(
                    f"Tryton has no {kind} with the key {', '.join(missing)}; nothing saved.",
                    code="not_found"))
            for i in idx:
                actor, rec = actors[i], raw[ids[i]]  # type: ignore[index]
                current = self._mapping.actor(kind, rec)
                for key in sorted((_READONLY[kind] - {"last_modified"}) & actor.fields.keys()):
                    if current is not None and (actor.fields[key] or None) != \
                            current.fields.get(key):
                        notes.append(f"{key} of {actor.erp_key} is read-only in Tryton and "
                                     "was not written")
                if kind == "project":
                    values = self._mapping.project_values(actor, rec)
                else:
                    values = self._mapping.party_values(kind, actor, rec, countries)
                    if kind == "company" and "actor_type" in actor.fields:
                        values.update(self._mapping.category_change(
                            rec, actor.fields["actor_type"]))
                    if kind == "person" and actor.parent_erp_key is not None:
                        values.update(self._mapping.employer_change(rec, actor.parent_erp_key))
                if values:
                    pairs[_model(kind)] += [[ids[i]], values]
        for model, args in pairs.items():
            if args:
                self._tryton.call(model, "write", *args)
        result: list[ErpActor] = []
        for kind in dict.fromkeys(kinds):
            found = self._search.fetch(kind,
                                       [ids[i] for i, k in enumerate(kinds) if k == kind])
            result += [found[ids[i]] for i, k in enumerate(kinds)  # type: ignore[index]
                       if k == kind and ids[i] in found]
        order = {ids[i]: i for i in range(len(ids))}
        result.sort(key=lambda a: order[int(a.erp_key or 0)])
        return Answer.good(result, "; ".join(notes))

    def close(self) -> None:
        """Log out (best effort) and release the HTTP session if this connector made it."""
        self._tryton.close()
