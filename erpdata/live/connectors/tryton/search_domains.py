"""Reading Tryton: the search domains of erpdata's actor types and restrictions, paging, and the
reads built on them (``search``, ``search_by_parent``, ``search_advanced``, ``get``,
``changed_since``), so that how a question becomes a Tryton domain is one place.

A customer, supplier or partner is a party in the category "Customer", "Supplier" or both, so
each company actor type is a domain on the categories; a person is a party with an "Employee
of" relation (:mod:`.actor_mapping`). Restrictions on a person's first, middle or last name are
checked here on the split name, because Tryton keeps one name (then paging happens here too).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from erpdata.live.connectors.base import OPERATORS, Answer, ErpActor, Page, Restriction
from erpdata.live.connectors.tryton.actor_mapping import (
    _READ,
    COMPANY_TYPES,
    CRM_PREFIX,
    TrytonMapping,
    _check_type,
    _default_type,
    _int_key,
    _kind,
    _model,
)
from erpdata.live.connectors.tryton.transport import TrytonTransport, _bad_request
from erpdata.live.connectors.tryton.tryton_setup import TrytonSetup


def _naive_utc(moment: datetime) -> datetime:
    """Tryton stores naive UTC; an aware datetime is converted, a naive one taken as UTC."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _like_escape(text: str) -> str:
    """A literal for a LIKE pattern (Tryton's escape character is the backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _parse_moment(text: str) -> tuple[datetime, datetime]:
    """A restriction's datetime value as the span it names: a date is that day, a time
    without fractions that second, otherwise that instant. Accepts ISO 8601 and SuperOffice's
    ``[DT:12/31/2013 23:59:59.0000000]``."""
    raw = text.strip()
    m = re.fullmatch(r"\[DT:(\d\d)/(\d\d)/(\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?\]", raw)
    if m:
        mo, d, y, hh, mm, ss, frac = m.groups()
        micro = int((frac or "0")[:6].ljust(6, "0"))
        start = datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss), micro)
        return start, start + (timedelta(microseconds=1) if micro else timedelta(seconds=1))
    if re.fullmatch(r"\d{4}-\d\d-\d\d", raw):
        day = date.fromisoformat(raw)
        start = datetime(day.year, day.month, day.day)
        return start, start + timedelta(days=1)
    moment = _naive_utc(datetime.fromisoformat(raw))
    if moment.microsecond:
        return moment, moment + timedelta(microseconds=1)
    return moment, moment + timedelta(seconds=1)


def _text_clause(target: str, op: str, values: list[str]) -> list[Any]:
    """A text operator as Tryton clauses (``=`` and the like operators ignore case, as
    SuperOffice's do). ``target`` is a field, or ``x2many subfield [contact type]`` for a
    child's field: then a negated operator means that no such child matches."""
    path, *rest = target.split(" ")
    field = rest[0] if rest else path
    v = _like_escape(values[0])
    negated = op in ("isnot", "notbegins", "notcontains", "notends")
    if op == "between":
        conds: list[Any] = [[field, ">=", values[0]], [field, "<=", values[1]]]
    else:
        pattern = {"=": v, "isnot": v, "begins": f"{v}%", "notbegins": f"{v}%",
                   "contains": f"%{v}%", "notcontains": f"%{v}%", "ends": f"%{v}",
                   "notends": f"%{v}"}[op]
        conds = [[field, "not ilike" if negated and not rest else "ilike", pattern]]
    if not rest:
        return conds
    if len(rest) > 1:
        conds.append(["type", "=", rest[1]])
    if path == "identifiers":
        conds.append(["code", "not like", f"{CRM_PREFIX}%"])
    return [[path, "not where" if negated else "where", conds]]


def _name_check(part: str, op: str, values: list[str]) -> Callable[[ErpActor], bool]:
    """A restriction on a person's first, middle or last name, checked on the split name."""
    wanted = [v.casefold() for v in values]

    def check(actor: ErpActor) -> bool:
        value = (actor.fields.get(part) or "").casefold()
        w = wanted[0]
        return {
            "=": value == w, "isnot": value != w,
            "begins": value.startswith(w), "notbegins": not value.startswith(w),
            "contains": w in value, "notcontains": w not in value,
            "ends": value.endswith(w), "notends": not value.endswith(w),
            "between": len(wanted) > 1 and wanted[0] <= value <= wanted[1],
        }[op]

    return check


#: Searchable fields: (value type of :data:`OPERATORS`, Tryton target). A target is a field
#: path, ``x2many field [contact type]`` for a child's field, ``@name:<part>`` for a name part
#: checked locally, or for lists ``x2many subfield`` / ``field``.
_SEARCHABLE: dict[str, dict[str, tuple[str, str]]] = {
    "company": {
        "name": ("text", "name"),
        "number2": ("text", "code"),
        "vatno": ("text", "identifiers code"),
        "phone": ("text", "contact_mechanisms value phone"),
        "fax": ("text", "contact_mechanisms value fax"),
        "email": ("text", "contact_mechanisms value email"),
        "url": ("text", "contact_mechanisms value website"),
        "postalzip": ("text", "addresses postal_code"),
        "postalcity": ("text", "addresses city"),
        "country": ("list", "addresses country.code"),
        "category": ("list", "categories name"),
        "last_modified": ("datetime", "last_modified"),
    },
    "person": {
        "firstname": ("text", "@name:firstname"),
        "middlename": ("text", "@name:middlename"),
        "lastname": ("text", "@name:lastname"),
        "number": ("text", "code"),
        "email": ("text", "contact_mechanisms value email"),
        "phone_direct": ("text", "contact_mechanisms value phone"),
        "phone_mobile": ("text", "contact_mechanisms value mobile"),
        "last_modified": ("datetime", "last_modified"),
    },
    "project": {
        "name": ("text", "name"),
        "number": ("text", "number"),
        "text": ("text", "comment"),
        "status": ("list", "status.name"),
        "enddate": ("datetime", "timesheet_works.timesheet_end_date"),
        "last_modified": ("datetime", "last_modified"),
    },
}


class TrytonSearch:
    """Searching and reading one connector's Tryton: its transport for the calls, its set-up
    for the ids the domains name, its mapping for the actors of the records read."""

    def __init__(self, tryton: TrytonTransport, setup: TrytonSetup,
                 mapping: TrytonMapping) -> None:
        self._tryton = tryton
        self._setup = setup
        self._mapping = mapping

    # --- domains -----------------------------------------------------------------------------

    def company_domain(self, actor_type: str | None) -> list[Any]:
        """Parties of one company actor type (None: of any of them)."""
        cust, sup = self._setup.customer(), self._setup.supplier()
        has = lambda c: ["categories", "where", [["id", "=", c]]]  # noqa: E731
        lacks = lambda c: ["categories", "not where", [["id", "=", c]]]  # noqa: E731
        if actor_type == "customer":
            return [has(cust), lacks(sup)]
        if actor_type == "supplier":
            return [has(sup), lacks(cust)]
        if actor_type == "partner":
            return [has(cust), has(sup)]
        return [["categories", "where", [["id", "in", [cust, sup]]]]]

    def type_domain(self, actor_type: str, *, exact: bool = True) -> list[Any]:
        """The records of an actor type; ``exact=False`` takes every company type for one."""
        kind = _kind(actor_type)
        if kind == "company":
            return self.company_domain(actor_type if exact else None)
        if kind == "person":
            return [["relations", "where", [["type", "=", self._setup.employee_of()]]]]
        return [["type", "=", "project"]]

    @staticmethod
    def _text_domain(kind: str, text: str) -> list[Any]:
        text = (text or "").strip()
        if not text:
            return []
        pattern = f"%{_like_escape(text)}%"
        if kind == "project":
            return [["OR", ["rec_name", "ilike", pattern], ["number", "ilike", pattern]]]
        return [["rec_name", "ilike", pattern]]

    def _parent_domain(self, kind: str, parents: list[int]) -> list[Any]:
        if kind == "person":
            return [["relations", "where", [["to", "in", parents],
                                            ["type", "=", self._setup.employee_of()]]]]
        return [["party", "in", parents]]

    def _restrict(self, kind: str, r: Restriction, domain: list[Any],
                  local: list[Callable[[ErpActor], bool]]) -> None:
        """Add one restriction to the domain (or, for name parts, to the local checks)."""
        op, values = r.operator, [str(v) for v in r.values]
        if r.field == "parent_erp_key" and kind != "company":
            keys = [k for k in (_int_key(v) for v in values) if k is not None]
            if op not in ("=", "oneof"):
                raise _bad_request("parent_erp_key takes the operator = or oneof.")
            domain.extend(self._parent_domain(kind, keys or [-1]))
            return
        if r.field == "parent_actor_type" and kind != "company":
            if op not in ("=", "oneof") or not set(values) <= set(COMPANY_TYPES):
                raise _bad_request("parent_actor_type takes = or oneof with customer, "
                                   "supplier or partner.")
            alternatives = [self.company_domain(v) for v in values]
            parents = alternatives[0] if len(alternatives) == 1 else ["OR", *alternatives]
            if kind == "person":
                domain.append(["relations", "where", [
                    ["type", "=", self._setup.employee_of()], ["to", "where", parents]]])
            else:
                domain.append(["party", "where", parents])
            return
        spec = _SEARCHABLE[kind].get(r.field)
        if spec is None:
            raise _bad_request(
                f"{r.field!r} is not searchable for a Tryton {kind}: use one of "
                f"{', '.join(_SEARCHABLE[kind])}.")
        value_type, target = spec
        if op not in OPERATORS[value_type]:
            raise _bad_request(f"The operator {op!r} does not apply to {r.field} (a "
                               f"{value_type} field): use one of "
                               f"{', '.join(OPERATORS[value_type])}.")
        need = 2 if op == "between" else 1
        if len(values) < need:
            raise _bad_request(f"{r.field} {op} needs {need} value(s).")
        if target.startswith("@name:"):
            local.append(_name_check(target.split(":", 1)[1], op, values))
            return
        if value_type == "datetime":
            domain.extend(self._moment_domain(target, op, values))
            return
        if value_type == "list":
            path, _, sub = target.partition(" ")
            oneof = op == "oneof"
            if sub:
                domain.append([path, "where" if oneof else "not where", [[sub, "in", values]]])
            else:
                domain.append([path, "in" if oneof else "not in", values])
            return
        domain.extend(_text_clause(target, op, values))

    @staticmethod
    def _moment_domain(target: str, op: str, values: list[str]) -> list[Any]:
        """Datetime operators on the span a value names; ``last_modified`` is
        coalesce(write_date, create_date) of the record itself (children not included)."""
        try:
            spans = [_parse_moment(v) for v in values]
        except ValueError:
            raise _bad_request(f"Not a date or time: {', '.join(values)}.") from None
        start, end = spans[0]
        last_end = spans[-1][1]
        if target != "last_modified":
            # a date field: day d lies in [start, end) iff ceil(start) <= d < ceil(end)
            def ceil(moment: datetime) -> date:
                day = moment.date()
                return day if moment.time() == datetime.min.time() else day + timedelta(1)
            start, end, last_end = ceil(start), ceil(end), ceil(last_end)  # type: ignore[assignment]
        bounds: list[tuple[str, Any]] = {
            "=": [(">=", start), ("<", end)], "before": [("<", start)],
            "after": [(">=", end)], "beforeOrEqual": [("<", end)],
            "afterOrEqual": [(">=", start)], "between": [(">=", start), ("<", last_end)],
        }[op]
        if target != "last_modified":
            return [[target, o, v] for o, v in bounds]
        written = [["write_date", "!=", None], *(["write_date", o, v] for o, v in bounds)]
        created = [["write_date", "=", None], *(["create_date", o, v] for o, v in bounds)]
        return [["OR", written, created]]

    # --- reading -----------------------------------------------------------------------------

    def fetch(self, kind: str, ids: Sequence[int], *, exact_type: str | None = None
              ) -> dict[int, ErpActor]:
        """Actors by id in one call; ids that are missing or of another kind are left out."""
        if not ids:
            return {}
        domain = [["id", "in", list(ids)],
                  *self.type_domain(exact_type or _default_type(kind),
                                    exact=exact_type is not None)]
        fields = _READ[kind]
        found: dict[int, ErpActor] = {}
        for rec in self._tryton.search_read(_model(kind), domain, fields):
            actor = self._mapping.actor(kind, rec)
            if actor is not None:
                found[int(rec["id"])] = actor
        return found

    def _page(self, kind: str, actor_type: str, domain: list[Any], offset: int, limit: int,
              ) -> Page[ErpActor]:
        """One page of actors (``limit`` + 1 asked for, to know whether more follow)."""
        if offset < 0 or limit < 1:
            raise _bad_request("offset must be 0 or more and limit 1 or more.")
        fields = _READ[kind]
        recs = self._tryton.search_read(
            _model(kind), [*self.type_domain(actor_type), *domain], fields,
            offset=offset, limit=limit + 1, order=[["name", "ASC"], ["id", "ASC"]])
        actors = [a for a in (self._mapping.actor(kind, r) for r in recs[:limit])
                  if a is not None]
        return Page(actors, len(recs) > limit)

    def search(self, actor_type: str, text: str = "", *, offset: int = 0, limit: int = 50
               ) -> Answer[Page[ErpActor]]:
        """:meth:`TrytonConnector.search`: one page of the text's domain."""
        kind = _check_type(actor_type)
        unmapped = self._setup.persons_unmapped(kind)
        if unmapped:
            return Answer.good(Page([], False), unmapped)
        return Answer.good(self._page(kind, actor_type, self._text_domain(kind, text),
                                      offset, limit))

    def search_by_parent(self, actor_type: str, text: str, parent_actor_type: str,
                         parent_erp_key: str, *, offset: int = 0, limit: int = 50
                         ) -> Answer[Page[ErpActor]]:
        """:meth:`TrytonConnector.search_by_parent`: one page of the parent's domain and the
        text's."""
        kind = _check_type(actor_type)
        if kind == "company":
            raise _bad_request("Customers, suppliers and partners have no parent in Tryton.")
        if parent_actor_type not in COMPANY_TYPES:
            raise _bad_request(f"A {actor_type}'s parent is a customer, supplier or partner, "
                               f"not {parent_actor_type!r}.")
        unmapped = self._setup.persons_unmapped(kind)
        if unmapped:
            return Answer.good(Page([], False), unmapped)
        parent = _int_key(parent_erp_key)
        if parent is None:
            return Answer.good(Page([], False), f"{parent_erp_key!r} is no Tryton key")
        domain = [*self._parent_domain(kind, [parent]), *self._text_domain(kind, text)]
        return Answer.good(self._page(kind, actor_type, domain, offset, limit))

    def search_advanced(self, actor_type: str, restrictions: Sequence[Restriction], *,
                        offset: int = 0, limit: int = 50) -> Answer[Page[ErpActor]]:
        """:meth:`TrytonConnector.search_advanced`: the restrictions' domain; those on a
        person's name parts are checked here on the actors read (their name split as
        :func:`.actor_mapping._split_name` does), and then paged here too."""
        kind = _check_type(actor_type)
        unmapped = self._setup.persons_unmapped(kind)
        if unmapped:
            return Answer.good(Page([], False), unmapped)
        domain: list[Any] = []
        local: list[Callable[[ErpActor], bool]] = []
        for r in restrictions:
            self._restrict(kind, r, domain, local)
        if not local:
            return Answer.good(self._page(kind, actor_type, domain, offset, limit))
        if offset < 0 or limit < 1:
            raise _bad_request("offset must be 0 or more and limit 1 or more.")
        recs = self._tryton.search_read(
            _model(kind), [*self.type_domain(actor_type), *domain], _READ[kind],
            order=[["name", "ASC"], ["id", "ASC"]])
        actors = [a for a in (self._mapping.actor(kind, rec) for rec in recs)
                  if a is not None and all(check(a) for check in local)]
        return Answer.good(Page(actors[offset:offset + limit], len(actors) > offset + limit))

    def get(self, actor_type: str, erp_keys: Sequence[str]) -> Answer[list[ErpActor]]:
        """:meth:`TrytonConnector.get`: one fetch (of any company type for a company), in the
        order asked; a warning names the keys not found."""
        kind = _check_type(actor_type)
        wanted = list(dict.fromkeys(erp_keys))
        unmapped = self._setup.persons_unmapped(kind)
        if unmapped:
            return Answer.warn([], f"Tryton has no person with the key {', '.join(wanted)}. "
                               + unmapped, code="setup_missing")
        ids = [k for k in (_int_key(x) for x in wanted) if k is not None]
        found = self.fetch(kind, ids)
        actors = [found[i] for i in (_int_key(x) for x in wanted) if i in found]
        missing = [x for x in wanted if _int_key(x) not in found]
        if missing:
            noun = "company" if kind == "company" else kind
            return Answer("warning", actors,
                          f"Tryton has no {noun} with the key {', '.join(missing)}.",
                          f"not found or not a {noun}: {missing}", error_code="not_found")
        return Answer.good(actors)

    def changed_since(self, actor_type: str, since: datetime | None
                      ) -> Answer[list[ErpActor]]:
        """:meth:`TrytonConnector.changed_since`: polls the records and, for parties, their
        addresses, contact mechanisms, identifiers and relations, because writing a child
        directly leaves the party's ``write_date`` alone."""
        kind = _check_type(actor_type)
        unmapped = self._setup.persons_unmapped(kind)
        if unmapped:
            return Answer.good([], unmapped)
        model = _model(kind)
        fields = _READ[kind]
        if since is None:
            recs = self._tryton.search_read(model, self.type_domain(actor_type), fields)
            return Answer.good([a for a in (self._mapping.actor(kind, r) for r in recs) if a])
        moment = _naive_utc(since)
        recent = ["OR", ["write_date", ">=", moment], ["create_date", ">=", moment]]
        ids = {int(r["id"]) for r in self._tryton.search_read(model, [recent], ["id"])}
        if kind != "project":
            children = [("party.address", "party", []), ("party.contact_mechanism", "party", []),
                        ("party.identifier", "party", [])]
            if kind == "person":  # a new employer is a change of the person only
                children.append(("party.relation.all", "from_",
                                 [["type", "=", self._setup.employee_of()]]))
            for child, link, extra in children:
                for rec in self._tryton.search_read(child, [recent, *extra], [link]):
                    if rec.get(link):
                        ids.add(int(rec[link]))
        found = self.fetch(kind, sorted(ids), exact_type=actor_type)
        return Answer.good([found[i] for i in sorted(found)])
