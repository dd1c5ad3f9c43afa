"""What the Tryton mapping needs in the database, by name: the party categories "Customer" and
"Supplier", the relation types "Employee of" / "Employer of", a company for the user and some
countries. This part looks them up (ids cached per connector), says what is missing and how to
create it, checks a connection (``test_connection``) and creates what a fresh database lacks
(``ensure_setup``).

Those names are defaults: a Tryton set up in another language has its own ("Kunde",
"Leverandør", "Ansatt hos"), which a connection names in its options (:data:`NAME_OPTIONS`).
The employee relation type is needed only when persons are read or written, so a Tryton
without it still syncs its companies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from erpdata.live.connectors.base import Answer
from erpdata.live.connectors.tryton.transport import TrytonTransport, _Failure

#: The default names of what the mapping needs in Tryton. A Tryton set up in another language
#: names them in that language ("Kunde", "Leverandør", "Ansatt hos"): a connection's options
#: (:data:`NAME_OPTIONS`) then name them, and the constructor takes them.
CUSTOMER_CATEGORY = "Customer"
SUPPLIER_CATEGORY = "Supplier"
EMPLOYEE_OF = "Employee of"
EMPLOYER_OF = "Employer of"
#: Connection option -> its default name (the constructor's keyword of the same name).
NAME_OPTIONS: dict[str, str] = {
    "customer_category": CUSTOMER_CATEGORY, "supplier_category": SUPPLIER_CATEGORY,
    "employee_relation": EMPLOYEE_OF, "employer_relation": EMPLOYER_OF}
#: Connection option -> (the Tryton model it names, that model in words).
_NAMED: dict[str, tuple[str, str]] = {
    "customer_category": ("party.category", "party category"),
    "supplier_category": ("party.category", "party category"),
    "employee_relation": ("party.relation.type", "relation type"),
    "employer_relation": ("party.relation.type", "relation type"),
}
#: The button of the Settings page that runs :meth:`TrytonConnector.ensure_setup`.
SETUP_BUTTON = "Set up Tryton for erpdata"

#: Countries ``ensure_setup`` adds when a fresh database lacks them (Tryton ships none).
DEFAULT_COUNTRIES: dict[str, str] = {
    "NO": "Norway", "SE": "Sweden", "DK": "Denmark", "FI": "Finland", "IS": "Iceland",
    "DE": "Germany", "NL": "Netherlands", "BE": "Belgium", "GB": "United Kingdom",
    "US": "United States", "FR": "France",
}


def _checked_names(customer_category: str, supplier_category: str, employee_relation: str,
                   employer_relation: str) -> dict[str, str]:
    """The connector's names (option -> name, stripped), or ValueError for a name that is
    empty or not text, and for two categories or two relation types of the same name."""
    names = {"customer_category": customer_category,
             "supplier_category": supplier_category,
             "employee_relation": employee_relation, "employer_relation": employer_relation}
    for option, value in names.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{option} must name a Tryton record, not {value!r}")
    names = {k: v.strip() for k, v in names.items()}
    if names["customer_category"] == names["supplier_category"]:
        raise ValueError("customer_category and supplier_category must differ")
    if names["employee_relation"] == names["employer_relation"]:
        raise ValueError("employee_relation and employer_relation must differ")
    return names


class TrytonSetup:
    """The categories and relation types of one connector's names, looked up over its
    transport. ``connection``: the erpdata connection's name, so that a message about a
    missing category can say which ``erpdata connect setup NAME`` creates it."""

    def __init__(self, tryton: TrytonTransport, names: dict[str, str],
                 connection: str | None) -> None:
        self._tryton = tryton
        self.names = names
        self.connection = connection
        self._ids: dict[str, int] = {}  # cached ids of categories and relation types

    @property
    def setup_hint(self) -> str:
        """How a steward creates what is missing: the CLI command of this connection, or
        the Settings page's button (both call :meth:`ensure_setup`)."""
        return (f"run `erpdata connect setup {self.connection or 'NAME'}` (or "
                f"\"{SETUP_BUTTON}\" on the Settings page)")

    # --- lookups -----------------------------------------------------------------------------

    def find(self, option: str) -> int | None:
        """The id of the category or relation type named by ``option`` (None: Tryton has
        none of that name); found ids are cached per connector, a missing one is asked again
        next time, so that a set-up made meanwhile is seen."""
        model, _ = _NAMED[option]
        name = self.names[option]
        key = f"{model}:{name}"
        if key not in self._ids:
            found = self._tryton.search_read(model, [["name", "=", name]], ["name"],
                                             limit=1)
            if not found:
                return None
            self._ids[key] = int(found[0]["id"])
        return self._ids[key]

    def _existing_names(self, model: str) -> str:
        """The names Tryton has for ``model``, for a message about a missing one."""
        recs = self._tryton.search_read(model, [], ["name"], limit=21,
                                        order=[["name", "ASC"]])
        names = [str(r["name"]) for r in recs[:20]]
        return (", ".join(names) + (", …" if len(recs) > 20 else "")) or "none"

    def missing(self, options: Sequence[str], *, hint: str | None = None,
                blocked: str | None = None) -> str:
        """A sentence naming what Tryton lacks of ``options`` (of one model), what it has,
        and the two ways out: the set-up, or the connection's option. ``blocked``: what
        cannot be synced until it exists (else the sentence says Tryton has none)."""
        model, what = _NAMED[options[0]]
        names = " or ".join(repr(self.names[o]) for o in options)
        fixes = " / ".join(f"--option {o}" for o in options)
        it = "it" if len(options) == 1 else "them"
        lack = (f"{blocked} cannot be synced until Tryton has the {what} {names}" if blocked
                else f"Tryton has no {what} {names}")
        return (f"{lack} (existing: {self._existing_names(model)}); "
                f"{hint or self.setup_hint} to create {it}, or fix {fixes}.")

    def lookup(self, option: str) -> int:
        """The id of a category or relation type the mapping needs, or a ``setup_missing``
        failure that says how to create it."""
        found = self.find(option)
        if found is None:
            model, _ = _NAMED[option]
            raise _Failure(Answer.failed(
                self.missing([option]), f"no {model} named {self.names[option]!r}",
                code="setup_missing"))
        return found

    def customer(self) -> int:
        return self.lookup("customer_category")

    def supplier(self) -> int:
        return self.lookup("supplier_category")

    def employee_of(self) -> int:
        return self.lookup("employee_relation")

    def persons_unmapped(self, kind: str) -> str | None:
        """Why persons cannot be read (Tryton lacks the employee relation type), or None.

        Why reads of persons do not fail then: without that relation type Tryton holds no
        person of this mapping, and a Tryton used for companies only must still sync them;
        a sync pulls every kind. Writing a person still fails (it needs the relation)."""
        if kind != "person" or self.find("employee_relation") is not None:
            return None
        return self.missing(["employee_relation"], blocked="Persons")

    # --- checking and setting up -------------------------------------------------------------

    def test_connection(self) -> Answer[str]:
        """:meth:`TrytonConnector.test_connection`: the server, the database and the login,
        then each name the mapping needs (an error without the categories, a warning without
        the employee relation type or a company for the user)."""
        tryton = self._tryton
        version = tryton.post("/rpc/", "common.server.version", [], auth=False)
        databases = tryton.post("/rpc/", "common.db.list", [], auth=False)
        if isinstance(databases, list) and tryton.database not in databases:
            return Answer.failed(
                f"Tryton {version} at {tryton.url} has no database {tryton.database!r} "
                f"(it has: {', '.join(map(str, databases)) or 'none'}).", code="no_database")
        tryton.login()
        what = f"Tryton {version}, database {tryton.database}, user {tryton.user}"
        hints = iter([self.setup_hint])

        def hint() -> str:  # the whole hint once, then a back-reference
            return next(hints, "run the same set-up")

        errors: list[str] = []
        categories = [o for o in ("customer_category", "supplier_category")
                      if self.find(o) is None]
        if categories:
            errors.append(self.missing(categories, hint=hint()))
        warnings: list[str] = []
        if self.find("employee_relation") is None:
            warnings.append(self.missing(["employee_relation"], hint=hint(),
                                         blocked="Persons"))
        elif self.find("employer_relation") is None:
            warnings.append(self.missing(["employer_relation"], hint=hint()))
        if not tryton.context.get("company"):
            warnings.append(f"Projects cannot be created until the Tryton user "
                            f"{tryton.user!r} has a company; {hint()} to create one.")
        if errors:
            return Answer.failed(f"{what}: " + " ".join(errors + warnings),
                                 code="setup_missing")
        if warnings:
            return Answer.warn(what, " ".join(warnings), code="setup_missing")
        return Answer.good(what)

    def ensure_setup(self, *, company_name: str, currency_code: str,
                     countries: Mapping[str, str]) -> Answer[list[str]]:
        """:meth:`TrytonConnector.ensure_setup`: create, where missing, the categories, the
        relation types as each other's reverse, a company for the user and the countries;
        what exists is neither renamed nor re-linked."""
        tryton = self._tryton
        if tryton.auth is None:
            tryton.login()
        made: list[str] = []
        notes: list[str] = []
        names = self.names
        wanted = [names["customer_category"], names["supplier_category"]]
        existing = {r["name"] for r in tryton.search_read(
            "party.category", [["name", "in", wanted]], ["name"])}
        new = [n for n in wanted if n not in existing]
        if new:
            tryton.call("party.category", "create", [{"name": n} for n in new])
            made += [f"party category {n}" for n in new]
        emp_name, empr_name = names["employee_relation"], names["employer_relation"]
        types = {r["name"]: r for r in tryton.search_read(
            "party.relation.type", [["name", "in", [emp_name, empr_name]]],
            ["name", "reverse", "reverse.name"])}
        emp = types.get(emp_name)
        if emp is not None and emp.get("reverse") is not None and \
                emp["reverse"] != (types.get(empr_name) or {}).get("id"):
            # this Tryton pairs the employee type with a reverse of its own: use it as it is
            other = (emp.get("reverse.") or {}).get("name")
            notes.append(f"the relation type {emp_name!r} already has the reverse {other!r}, "
                         f"not {empr_name!r}, and was left as it is "
                         f"(--option employer_relation=\"{other}\" names it)")
        else:
            created_type = False
            for name in (emp_name, empr_name):
                if name not in types:
                    rid = tryton.call("party.relation.type", "create",
                                      [{"name": name}])[0]
                    types[name] = {"id": rid, "reverse": None}
                    made.append(f"relation type {name}")
                    created_type = True
            emp, empr = types[emp_name], types[empr_name]
            if empr.get("reverse") not in (None, emp["id"]):
                notes.append(f"the relation type {empr_name!r} is already the reverse of "
                             "another type and was left as it is, so "
                             f"{emp_name!r} has no reverse")
            elif emp.get("reverse") != empr["id"] or empr.get("reverse") != emp["id"]:
                tryton.call("party.relation.type", "write", [emp["id"]],
                            {"reverse": empr["id"]}, [empr["id"]], {"reverse": emp["id"]})
                if not created_type:
                    made.append(f"{emp_name} and {empr_name} linked as each other's reverse")
        have = {r["code"] for r in tryton.search_read(
            "country.country", [["code", "in", list(countries)]], ["code"])}
        new_countries = [{"code": c, "name": n} for c, n in countries.items() if c not in have]
        if new_countries:
            tryton.call("country.country", "create", new_countries)
            made += [f"country {c['code']}" for c in new_countries]
        companies = tryton.search_read("company.company", [], ["id"], limit=1)
        if companies:
            company_id = int(companies[0]["id"])
        else:
            currencies = tryton.search_read("currency.currency",
                                            [["code", "=", currency_code]], ["id"], limit=1)
            if currencies:
                currency_id = int(currencies[0]["id"])
            else:
                currency_id = tryton.call("currency.currency", "create", [{
                    "name": currency_code, "code": currency_code, "digits": 2,
                    "rounding": Decimal("0.01"), "symbol": currency_code}])[0]
                made.append(f"currency {currency_code}")
            party_id = tryton.call("party.party", "create", [{"name": company_name}])[0]
            company_id = tryton.call("company.company", "create",
                                     [{"party": party_id, "currency": currency_id}])[0]
            made.append(f"company {company_name}")
        if not tryton.context.get("company"):  # never switch a user's existing company
            tryton.call("res.user", "write", [tryton.uid],
                        {"companies": [["add", [company_id]]], "company": company_id})
            tryton.load_context()
            made.append("the user's company")
        self._ids.clear()
        return Answer.good(made, "; ".join(notes))
