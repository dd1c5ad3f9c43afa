"""SuperOffice CRM over its REST Web API: read companies, persons and projects, write their
fields, list the links SuperOffice holds, and link, unlink and create ERP actors through the
ErpSync agent (domain guide, d2, f).

Why this module is shaped the way it is:

- **The tenant's host moves.** SuperOffice Online answers a tenant's API only on its current
  numbered host (``sod2``, ``online3``, ...); any other host answers ``421 Wrong subdomain``.
  The host comes from ``GET https://{env}.superoffice.com/api/state/{tenant}`` and changes
  when SuperOffice rebalances. So a URL naming the environment host
  (``https://online.superoffice.com/Cust12345``) is resolved at the first call, and a 421
  resolves again once and retries the call. The credentials only ever go to the configured
  host or to a resolved host that is trusted (https, under ``trusted_domains``); the state
  call itself carries none.
- **Reading** goes through the archive-backed collections ``GET /api/v1/Contact | Person |
  Project`` (archives ``SimpleContact``, ``Person`` and ``FindProject``) with ``$select`` of the
  documented archive columns, ordered by the primary key and paged with ``$top``/``$skip``,
  following ``odata.nextLink`` (whose origin is compared normalised: real links spell
  ``:443``). When a full page comes back without a nextLink the next page is asked for by
  ``$skip`` all the same: a collection cut short after its first page must not look like a
  complete one. ``0001-01-01T00:00:00`` is SuperOffice's "no date".
- **Since** uses only documented date operators: the archive's ``updatedDate`` columns are of
  restriction type *date* (date part only; ``before``, ``after``, ``date``, ``dateBetween``).
  So the filter asks for ``updated after (since - 2 days) or registered after (since - 2
  days)`` and the exact cut is made here, in UTC.
- **Writing** is ``PATCH /api/v1/<Entity>/<id>``: a JSON Merge Patch when only top-level text
  properties change; a JSON Patch (RFC 6902) as soon as an address part or a phone/e-mail/URL
  changes, because a merge patch cannot set a property under a currently-null parent (guide f)
  and would replace a whole ``Emails``/``Phones`` array.
- **Links** go through ``POST /api/v1/Agents/ErpSync/<Method>``. The field keys are the
  agent's own: ``ConnectActor`` sends only the ``CrmFieldKey`` values the connection's
  actor-type mapping (``GetActorTypeMapping``) knows, and ``CreateErpActorFromCrm`` sends the
  ERP field keys of ``GetFieldsForNewErpActor``, filled from the CRM values through that
  mapping and from the fields' defaults; a mandatory field left empty stops the create before
  anything is sent. Both are read once per connector and actor type. The links SuperOffice
  already holds are read with the documented ``Dynamic`` archive over the ``ErpExternalKey``
  and ``ErpInternalKey`` tables, page by page (:meth:`SuperOfficeConnector.links`).
- **Long runs** survive what a real tenant does to them: an expired credential (access tokens
  live an hour, tickets six) is renewed once through ``renew`` and the call retried; a ``429``
  or ``503`` with ``Retry-After`` is waited out (up to ``retry_after_cap`` seconds, a bounded
  number of times) and retried.
- **Failures** never raise: every remote failure is an :class:`Answer` error, retryable for
  timeouts, lost connections, 5xx, 408 and 429. Credentials are sent per request (a session
  passed in is never changed), redirects are not followed, and every text that leaves this
  module is scrubbed of the token, ticket, app token, renewed tokens and renewal secrets.

What is verified only against the fake server (``tests/fakes/superoffice.py``) and what must be
checked on a real tenant is listed in ``docs/SUPEROFFICE.md``.

The connector is one public class, :class:`SuperOfficeConnector` (the contract's methods:
records, writes, links, connect, disconnect and create), over the modules of this package:
:mod:`.tenant_session` (the HTTP calls: the tenant's host, credentials and their renewal,
``Retry-After``, the answers), :mod:`.tenant_hosts` (origins, trusted domains, the token
endpoint), :mod:`.renewal` (:class:`~.renewal.OidcRefresh`, ``Retry-After`` parsing),
:mod:`.crm_records` (collections, entity properties and value conversions) and
:mod:`.erpsync_agent` (the ErpSync agent's vocabulary and
:class:`~.erpsync_agent.SuperOfficeLink`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

from erpdata.live.connectors.base import Answer, CrmConnector, CrmLink, CrmRecord, ErpActor
from erpdata.live.connectors.superoffice.crm_records import (
    COLLECTIONS,
    WRITABLE,
    _as_utc,
    _cell,
    _Collection,
    _crm_int,
    _date_text,
    _parse_datetime,
    _Target,
    _text,
)
from erpdata.live.connectors.superoffice.erpsync_agent import (
    _ALREADY_LINKED,
    _ERP_ACTOR_TYPE_NUMBER,
    ERP_ACTOR_TYPE,
    TABLE_ID,
    SuperOfficeLink,
    _access,
    _label,
    _localised,
    _sync_key,
)
from erpdata.live.connectors.superoffice.tenant_session import TenantSession
from erpdata.schema import ACTOR_TYPES, CRM_ACTOR_TYPE, KINDS

#: The options of a ``superoffice`` connection (``erpdata connect add --option KEY=VALUE``),
#: with what each is for; :func:`erpdata.live.connections.check` refuses any other.
OPTIONS: dict[str, str] = {
    "erp_connection_id": "the ERP connection's id in SuperOffice's ERP-sync settings",
    "auth": "token (an OIDC access token, the default) or ticket (a system-user ticket)",
    "client_id": "the app's client id, to renew the access token with a refresh token",
    "redirect_uri": "the app's redirect URI, when its token endpoint asks for it",
    "token_url": "the OIDC token endpoint (default: https://<env>.superoffice.com/login/"
                 "common/oauth/tokens, the environment of the url)",
    "language": "Accept-Language of the answers (default en)",
    "timezone": "SO-TimeZone of the dates (default UTC; empty: not sent)",
    "trusted_domains": "comma-separated domains a resolved tenant host must lie under "
                       "(default superoffice.com)",
}


class SuperOfficeConnector(TenantSession, CrmConnector):
    """One SuperOffice tenant and one of its ERP connections (``erp_connection_id``).

    ``url`` is the tenant base: the environment host (``https://online.superoffice.com/
    Cust12345``, resolved to the tenant's current host at the first call) or a tenant host
    (``https://sod2.superoffice.com/Cust12345``, resolved again when it answers 421); calls go
    to ``{base}/api/v1/...``. Authenticate with ``token`` (``Authorization: Bearer``) or with
    ``ticket`` and ``app_token`` (``Authorization: SOTicket`` plus ``SO-AppToken``).

    Options: ``renew`` returns a fresh token (or ticket, with ticket auth) when SuperOffice
    answers 401, e.g. an :class:`OidcRefresh`; ``trusted_domains`` are the domains a resolved
    host must lie under (``("superoffice.com",)``; tests on this machine pass
    ``("127.0.0.1",)``) and ``resolve_host`` forces (True) or stops (False) resolving a URL
    that is not an environment host; ``language`` (``Accept-Language``) and ``timezone``
    (``SO-TimeZone: <timezone>, includeTZOffset``; empty: not sent) shape the answers;
    ``retry_after_cap`` and ``max_throttle_retries`` bound the waits a ``Retry-After`` asks
    for; ``sleep`` is how to wait (tests pass their own).
    """

    type = "superoffice"

    # --- contract ---------------------------------------------------------------------------

    def test_connection(self) -> Answer[str]:
        """One cheap read (the first company id) proves the URL, the tenant's host, the
        credentials and the REST API; then the ErpSync agent is asked for its connections
        (``GetAllConnections``, read-only and without the ERP's config values), because in
        Online the agent must be granted to the app and a missing grant would otherwise show
        only as a 403 on the first link. The configured ERP connection must exist; an
        inactive one is a warning (links are kept, nothing syncs)."""
        answer = self._call("GET", "Contact", "testing the connection",
                            params={"$select": "contactId", "$top": "1"})
        if not answer.ok:
            return answer  # type: ignore[return-value]
        if not isinstance(answer.value, dict) or "value" not in answer.value:
            return self._fail("SuperOffice answered, but not with a collection",
                              "GET /api/v1/Contact: no 'value'", code="UNEXPECTED")
        agent = self._agent("GetAllConnections", {"IncludeDeleted": False},
                            "asking the ErpSync agent for the ERP connections")
        if not agent.ok:
            if agent.error_code == "HTTP_403":
                return self._fail(
                    "SuperOffice answers, but the ErpSync agent is not granted to this app "
                    "(403): linking, unlinking and creating ERP actors will all fail. In "
                    "SuperOffice Online the ErpSync agent is restricted: ask SuperOffice to "
                    "grant it to the app's registration (Developer Portal), then have the "
                    "tenant's administrator approve the app again",
                    agent.tech_explanation, code="AGENT_NOT_GRANTED")
            return agent  # type: ignore[return-value]
        rows = [c for c in (agent.value or []) if isinstance(c, dict)] \
            if isinstance(agent.value, list) else []
        host = urlsplit(self._base).netloc

        def describe(c: Mapping[str, Any]) -> str:
            name = _localised(c.get("DisplayName")) or "unnamed"
            active = "active" if c.get("Active") else "inactive"
            return f"{c.get('ErpConnectionId')} '{name}' ({active})"

        mine = [c for c in rows if str(c.get("ErpConnectionId")) == str(self.erp_connection_id)
                and not c.get("Deleted")]
        if not mine:
            there = [describe(c) for c in rows if not c.get("Deleted")]
            have = (f"the tenant has {', '.join(there)}" if there else
                    "the tenant has no ERP connection (Settings and maintenance > Quote/Sync > "
                    "Sync)")
            return self._fail(f"SuperOffice has no ERP connection {self.erp_connection_id}: "
                              f"{have}; set the connection's erp_connection_id to one of them",
                              f"GetAllConnections: {len(rows)} connection(s)",
                              code="UNKNOWN_CONNECTION")
        conn = mine[0]
        name = _localised(conn.get("DisplayName")) or "unnamed"
        said = (f"SuperOffice {self.url} (tenant host {host}), ERP connection "
                f"{self.erp_connection_id} '{name}'")
        if not conn.get("Active"):
            return self._answer(
                "warning", f"{said} (inactive)",
                f"ERP connection {self.erp_connection_id} '{name}' is not active: links can "
                "be made and read, but SuperOffice does not sync it until an administrator "
                "activates it (Settings and maintenance > Quote/Sync > Sync)",
                code="INACTIVE")
        return Answer.good(f"{said} (active)")

    def records(self, kind: str, since: datetime | None = None) -> Answer[list[CrmRecord]]:
        """Every company, person or project (or those changed on or after ``since``), read
        page by page; any failed page fails the whole read (no partial list)."""
        if kind not in COLLECTIONS:
            return self._fail(f"Unknown kind {kind!r}; expected one of {', '.join(KINDS)}",
                              code="BAD_KIND")
        coll = COLLECTIONS[kind]
        select = [coll.id_column, *coll.columns.values(), coll.updated_column,
                  coll.registered_column]
        params = {"$select": ",".join(dict.fromkeys(select)), "$orderBy": coll.id_column,
                  "$top": str(self.page_size), "$skip": "0"}
        since_utc = _as_utc(since) if since else None
        if since_utc:
            day = (since_utc.date() - timedelta(days=2)).isoformat()
            params["$filter"] = (f"{coll.updated_column} after '{day}' or "
                                 f"{coll.registered_column} after '{day}'")
        rows = self._pages(coll.entity, params, f"reading {kind} records")
        if not rows.ok:
            return rows  # type: ignore[return-value]
        records, several = self._to_records(kind, coll, rows.value or [])
        if since_utc:
            records = [r for r in records
                       if r.last_modified is None or r.last_modified >= since_utc]
        if several:
            return Answer.good(records, f"{several} project(s) have members from several "
                                        "companies; the first member's company was taken")
        return Answer.good(records)

    def _pages(self, path: str, params: dict[str, str], what: str
               ) -> Answer[list[dict[str, Any]]]:
        """All rows of a collection or archive: nextLink while there is one, else ``$skip``
        while pages come back full. A nextLink to another host, a repeated nextLink or a full
        page that repeats the previous one (a server ignoring ``$skip``) fail rather than
        loop."""
        target: str = path
        query: dict[str, str] | None = params
        rows: list[dict[str, Any]] = []
        seen_links: set[str] = set()
        previous: list[Any] | None = None
        while True:
            answer = self._call("GET", target, what, params=query)
            if not answer.ok:
                return answer
            body = answer.value
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                return self._fail(f"SuperOffice answered without a list of rows while {what}",
                                  f"GET {path}: no 'value' array", code="UNEXPECTED")
            page = [r for r in body["value"] if isinstance(r, dict)]
            if previous is not None and page and page == previous:
                return self._fail(f"SuperOffice sent the same page twice while {what}",
                                  "paging does not advance ($skip ignored?)", code="PAGING")
            rows.extend(page)
            previous = page
            link = body.get("odata.nextLink")
            if isinstance(link, str) and link.strip():
                nxt = urljoin(f"{self._api}/{path}", link.strip())
                if not self._same_origin(nxt):
                    return self._fail(
                        f"SuperOffice's next-page link points to another host while {what}; "
                        "not followed, so the credentials stay on the tenant's host",
                        f"nextLink host {urlsplit(nxt).netloc}", code="FOREIGN_HOST")
                if nxt in seen_links:
                    return self._fail(f"SuperOffice's next-page link repeats while {what}",
                                      "odata.nextLink loops", code="PAGING")
                seen_links.add(nxt)
                target, query = nxt, None
            elif len(page) >= self.page_size:
                target, query = path, {**params, "$skip": str(len(rows))}
            else:
                return Answer.good(rows)

    def _to_records(self, kind: str, coll: _Collection, rows: list[dict[str, Any]]
                    ) -> tuple[list[CrmRecord], int]:
        """Rows -> records, merged by id (a join column such as a project's members gives
        several rows per record; the first non-empty value wins). Returns the records and how
        many had more than one company."""
        merged: dict[str, dict[str, str | None]] = {}
        modified: dict[str, datetime | None] = {}
        companies: dict[str, set[str]] = {}
        for row in rows:
            crm_id = _text(_cell(row, coll.id_column)) or _text(row.get("PrimaryKey"))
            if crm_id is None:
                continue
            values = merged.setdefault(crm_id, dict.fromkeys(coll.columns))
            for name, column in coll.columns.items():
                raw = _cell(row, column)
                value = _date_text(raw) if name in coll.date_fields else _text(raw)
                if name == "company_id" and value in ("0", None):
                    continue
                if name == "company_id" and value is not None:
                    companies.setdefault(crm_id, set()).add(value)
                if values.get(name) is None and value is not None:
                    values[name] = value
            stamps = [d for d in (_parse_datetime(_cell(row, coll.updated_column)),
                                  _parse_datetime(_cell(row, coll.registered_column))) if d]
            best = max(stamps, default=None)
            old = modified.get(crm_id)
            modified[crm_id] = max(d for d in (old, best) if d) if (old or best) else None
        records = [CrmRecord(kind, crm_id, values, modified.get(crm_id))
                   for crm_id, values in merged.items()]
        several = sum(1 for ids in companies.values() if len(ids) > 1)
        return records, several

    def save(self, records: Sequence[CrmRecord]) -> Answer[list[CrmRecord]]:
        """Write the given fields of existing records, one PATCH each (see the module
        docstring for merge patch vs JSON Patch). Every record is checked before anything is
        sent. The first failure stops the batch: the error answer's value holds the records
        saved before it, so the caller knows exactly what was written."""
        plans: list[tuple[CrmRecord, int, dict[str, _Target], list[str]]] = []
        for rec in records:
            if rec.kind not in WRITABLE:
                return self._fail(f"Unknown kind {rec.kind!r}", code="BAD_KIND")
            record_id = _crm_int(rec.crm_id)
            if record_id is None:
                return self._fail(f"{rec.crm_id!r} is not a SuperOffice {rec.kind} id",
                                  code="BAD_ID")
            targets: dict[str, _Target] = {}
            skipped: list[str] = []
            for name, value in rec.fields.items():
                target = WRITABLE[rec.kind].get(name)
                if target is None:
                    skipped.append(name)
                    continue
                if target.is_date and value not in (None, ""):
                    try:
                        date.fromisoformat(str(value))
                    except ValueError:
                        return self._fail(f"{name} of {rec.kind} {rec.crm_id} is not a date "
                                          f"(YYYY-MM-DD): {value!r}", code="BAD_VALUE")
                targets[name] = target
            plans.append((rec, record_id, targets, skipped))

        saved: list[CrmRecord] = []
        skipped_all: dict[str, set[str]] = {}
        for rec, record_id, targets, skipped in plans:
            entity = COLLECTIONS[rec.kind].entity
            written = {name: rec.fields[name] for name in targets}
            if skipped:
                skipped_all.setdefault(rec.kind, set()).update(skipped)
            if not targets:
                saved.append(replace(rec, fields={}))
                continue
            answer = self._patch(entity, record_id, rec, targets)
            if not answer.ok:
                user = (f"Saved {len(saved)} of {len(plans)} records; {entity} {record_id} "
                        f"failed: {answer.user_explanation}")
                return self._answer("error", saved, user, answer.tech_explanation,
                                    answer.error_code, answer.retryable)
            entity_json = answer.value if isinstance(answer.value, dict) else {}
            stamp = (_parse_datetime(entity_json.get("UpdatedDate"))
                     or datetime.now(UTC).replace(microsecond=0))
            saved.append(CrmRecord(rec.kind, rec.crm_id, written, stamp))
        if skipped_all:
            names = "; ".join(f"{kind}: {', '.join(sorted(names))}"
                              for kind, names in sorted(skipped_all.items()))
            return self._answer(
                "warning", saved,
                f"Not written (list fields and company links need list ids): {names}",
                code="NOT_WRITTEN")
        return Answer.good(saved)

    def _patch(self, entity: str, record_id: int, rec: CrmRecord,
               targets: Mapping[str, _Target]) -> Answer[Any]:
        what = f"saving {entity} {record_id}"
        url = f"{entity}/{record_id}"

        def wire(name: str, target: _Target) -> Any:
            value = rec.fields[name]
            if value in (None, ""):
                return None
            return f"{value}T00:00:00" if target.is_date else value

        if all(t.how == "scalar" for t in targets.values()):
            merge = {t.path[0]: wire(name, t) for name, t in targets.items()}
            return self._call("PATCH", url, what, body=merge,
                              content_type="application/merge-patch+json")

        current: dict[str, Any] = {}
        if any(t.how == "multi" for t in targets.values()):
            got = self._call("GET", url, f"reading {entity} {record_id} before saving")
            if not got.ok:
                return got
            current = got.value if isinstance(got.value, dict) else {}
        ops: list[dict[str, Any]] = []
        for name, target in targets.items():
            value = wire(name, target)
            if target.how in ("scalar", "nested"):
                ops.append({"op": "replace", "path": "/" + "/".join(target.path),
                            "value": value})
                continue
            prop = target.path[0]
            existing = current.get(prop) or []
            has_first = isinstance(existing, list) and len(existing) > 0
            if value is not None and has_first:
                ops.append({"op": "replace", "path": f"/{prop}/0/Value", "value": value})
            elif value is not None:
                ops.append({"op": "add", "path": f"/{prop}/-", "value": {"Value": value}})
            elif has_first:
                ops.append({"op": "remove", "path": f"/{prop}/0"})
        if not ops:
            return Answer.good(current)
        return self._call("PATCH", url, what, body=ops,
                          content_type="application/json-patch+json")

    # --- links through the ErpSync agent --------------------------------------------------------

    def _check_link(self, kind: str, crm_id: str, erp_actor_type: str | None = None
                    ) -> Answer[Any] | tuple[int, str, str | None]:
        """(record id, CrmActorType, ErpActorType) or the error answer saying what is wrong."""
        if kind not in CRM_ACTOR_TYPE:
            return self._fail(f"Unknown kind {kind!r}", code="BAD_KIND")
        record_id = _crm_int(crm_id)
        if record_id is None:
            return self._fail(f"{crm_id!r} is not a SuperOffice {kind} id", code="BAD_ID")
        so_type = None
        if erp_actor_type is not None:
            if erp_actor_type not in ACTOR_TYPES[kind]:  # type: ignore[index]
                allowed = ", ".join(ACTOR_TYPES[kind])  # type: ignore[index]
                return self._fail(f"A {kind} cannot be linked as {erp_actor_type!r} "
                                  f"(allowed: {allowed})", code="BAD_ACTOR_TYPE")
            so_type = ERP_ACTOR_TYPE[erp_actor_type]
        return record_id, CRM_ACTOR_TYPE[kind], so_type  # type: ignore[index]

    def _field_mappings(self, so_type: str) -> Answer[list[dict[str, Any]]]:
        """The field mappings of ``so_type`` in the ERP connection (``GetActorTypeMapping``:
        ErpFieldKey <-> CrmFieldKey), read once per connector: the keys the agent knows."""
        if so_type in self._mappings:
            return Answer.good(self._mappings[so_type])
        what = f"reading ERP connection {self.erp_connection_id}'s mapping of {so_type}"
        answer = self._agent("GetActorTypeMapping", {"ErpConnectionId": self.erp_connection_id,
                                                     "ActorType": so_type}, what)
        if not answer.ok:
            return answer
        value = answer.value if isinstance(answer.value, dict) else {}
        items = value.get("FieldMappings")
        if not isinstance(items, list):
            return self._fail(f"SuperOffice gave no field mappings while {what}",
                              "GetActorTypeMapping: no FieldMappings", code="UNEXPECTED")
        self._mappings[so_type] = [m for m in items if isinstance(m, dict)]
        return Answer.good(self._mappings[so_type])

    def _fields_for_new(self, so_type: str) -> Answer[list[dict[str, Any]]]:
        """The ERP's fields for a new ``so_type`` (``GetFieldsForNewErpActor``), read once
        per connector."""
        if so_type in self._new_actor_fields:
            return Answer.good(self._new_actor_fields[so_type])
        what = f"reading the ERP's fields for a new {so_type}"
        answer = self._agent("GetFieldsForNewErpActor",
                             {"ErpConnectionId": self.erp_connection_id, "ErpActorType": so_type},
                             what)
        if not answer.ok:
            return answer
        if not isinstance(answer.value, list):
            return self._fail(f"SuperOffice gave no field list while {what}",
                              "GetFieldsForNewErpActor: not an array", code="UNEXPECTED")
        self._new_actor_fields[so_type] = [f for f in answer.value
                                           if isinstance(f, dict) and f.get("FieldKey")]
        return Answer.good(self._new_actor_fields[so_type])

    @staticmethod
    def _crm_keys(mappings: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
        """The mappings by CrmFieldKey (upper-cased for the lookup; the agent's own spelling
        is what is sent). A mapping without a CRM field syncs nothing and is left out."""
        return {str(m["CrmFieldKey"]).upper(): m for m in mappings
                if str(m.get("CrmFieldKey") or "").strip()}

    def connect(self, kind: str, crm_id: str, erp_actor_type: str, erp_key: str,
                values: dict[str, str | None]) -> Answer[bool]:
        """``ConnectActor``: link the record to ``erp_key`` and apply the chosen values. Each
        value goes under the ``CrmFieldKey`` the connection's mapping of the actor type has
        for it (read from the agent, never guessed); a value the mapping does not know is not
        sent, and the answer is then a warning naming it. SuperOffice refusing because the
        record or the ERP actor is linked already is an error ``ALREADY_LINKED`` (a retry
        would not help)."""
        checked = self._check_link(kind, crm_id, erp_actor_type)
        if isinstance(checked, Answer):
            return checked
        record_id, crm_type, so_type = checked
        assert so_type is not None
        if not str(erp_key).strip():
            return self._fail("An ERP key is needed to connect", code="BAD_KEY")
        mappings = self._field_mappings(so_type)
        if not mappings.ok:
            return mappings  # type: ignore[return-value]
        known = self._crm_keys(mappings.value or [])
        items: list[dict[str, Any]] = []
        dropped: list[str] = []
        for name, value in values.items():
            key = _sync_key(kind, name)
            if key is None:
                continue
            mapping = known.get(key.upper())
            if mapping is None:
                dropped.append(name)
                continue
            text = "" if value is None else str(value)
            items.append({"DisplayName": _label(kind, name),
                          "CrmFieldKey": str(mapping["CrmFieldKey"]), "Value": text,
                          "DisplayValue": text, "SyncToCrm": True, "SyncToErp": True})
        what = f"connecting {crm_type} {record_id} to {so_type} {erp_key}"
        body = {"ErpConnectionId": self.erp_connection_id, "CrmRecordId": record_id,
                "CrmActorType": crm_type, "ErpKey": str(erp_key), "ErpActorType": so_type,
                "FieldValues": items}
        answer = self._agent_outcome(self._agent("ConnectActor", body, what), what,
                                     false_state="error")
        if not answer.ok and _ALREADY_LINKED.search(
                f"{answer.user_explanation} {answer.tech_explanation}"):
            return self._fail(
                f"SuperOffice refused to link {crm_type} {record_id} to {so_type} {erp_key}: "
                f"one of them is already linked in ERP connection {self.erp_connection_id}. "
                "Disconnect the existing link first if it is wrong",
                f"{answer.error_code}: {answer.user_explanation}", code="ALREADY_LINKED")
        if answer.ok and dropped:
            return self._answer(
                "warning", True,
                f"Linked {crm_type} {record_id} to {so_type} {erp_key}; not sent, as ERP "
                f"connection {self.erp_connection_id}'s mapping of {so_type} has no CRM field "
                f"for them: {', '.join(dropped)}", answer.tech_explanation, code="NOT_MAPPED")
        return answer

    def disconnect(self, kind: str, crm_id: str) -> Answer[bool]:
        """``BreakActorLink``. ``false`` is a warning (value False): SuperOffice removed no
        link, which may mean there was none in this connection."""
        checked = self._check_link(kind, crm_id)
        if isinstance(checked, Answer):
            return checked
        record_id, crm_type, _ = checked
        what = f"disconnecting {crm_type} {record_id}"
        body = {"ErpConnectionId": self.erp_connection_id, "CrmRecordId": record_id,
                "CrmActorType": crm_type}
        answer = self._agent_outcome(self._agent("BreakActorLink", body, what), what,
                                     false_state="warning")
        if answer.state == "warning" and answer.value is False:
            return self._answer("warning", False,
                                f"SuperOffice removed no link for {crm_type} {record_id} "
                                f"in ERP connection {self.erp_connection_id} (answered "
                                "false): it may not have been linked there",
                                code="FALSE")
        return answer

    def _new_actor_values(self, kind: str, so_type: str, values: Mapping[str, str | None]
                          ) -> Answer[dict[str, str]]:
        """``ErpFieldKeyValues`` for a new ``so_type``: the ERP field keys of
        ``GetFieldsForNewErpActor``, each filled from the CRM value mapped to it
        (``GetActorTypeMapping``: CrmFieldKey -> ErpFieldKey), else from the field's default
        (as the Create dialog pre-fills them). A mandatory field left without a value is an
        error naming it, so that nothing half-made reaches the ERP."""
        new_fields = self._fields_for_new(so_type)
        if not new_fields.ok:
            return new_fields  # type: ignore[return-value]
        mappings = self._field_mappings(so_type)
        if not mappings.ok:
            return mappings  # type: ignore[return-value]
        wanted = {str(f["FieldKey"]): f for f in new_fields.value or []
                  if _access(f) != "readonly"}
        erp_for_crm = {crm: str(m.get("ErpFieldKey") or "")
                       for crm, m in self._crm_keys(mappings.value or []).items()}
        out: dict[str, str] = {}
        for name, value in values.items():
            key = _sync_key(kind, name)
            erp_key = erp_for_crm.get(key.upper()) if key else None
            if erp_key and erp_key in wanted and value not in (None, ""):
                out[erp_key] = str(value)
        for key, info in wanted.items():
            default = info.get("DefaultValue")
            if key not in out and default not in (None, ""):
                out[key] = str(default)
        missing = [f"{_localised(info.get('DisplayName')) or key} ({key})"
                   for key, info in wanted.items()
                   if _access(info) == "mandatory" and not out.get(key, "").strip()]
        if missing:
            return self._fail(
                f"Cannot create the {so_type}: the ERP requires {', '.join(missing)}, and "
                "neither a mapped CRM value nor a default fills it. Give the CRM record a "
                "value for it, or set a default for the field in the ERP connection's "
                "mapping (Default values)", f"GetFieldsForNewErpActor: {len(missing)} "
                "mandatory field(s) empty", code="MISSING_MANDATORY")
        return Answer.good(out)

    def create_erp_actor(self, kind: str, crm_id: str, erp_actor_type: str,
                         values: dict[str, str | None]) -> Answer[ErpActor]:
        """``CreateErpActorFromCrm``, with ``ErpFieldKeyValues`` keyed by the ERP's own field
        keys (:meth:`_new_actor_values`). SuperOffice documents a bool answer, without the new
        ERP key: then the answer is a *warning* whose actor has ``erp_key`` None (created and
        linked, key unknown). A string answer, or an object with ``ErpKey``, gives the key."""
        checked = self._check_link(kind, crm_id, erp_actor_type)
        if isinstance(checked, Answer):
            return checked
        record_id, crm_type, so_type = checked
        assert so_type is not None
        key_values = self._new_actor_values(kind, so_type, values)
        if not key_values.ok:
            return key_values  # type: ignore[return-value]
        what = f"creating a {so_type} in the ERP from {crm_type} {record_id}"
        body = {"ConnectionId": self.erp_connection_id, "CrmEntityId": record_id,
                "ErpActorType": so_type, "CrmActorType": crm_type,
                "ErpFieldKeyValues": key_values.value}
        answer = self._agent("CreateErpActorFromCrm", body, what)
        if not answer.ok:
            if _ALREADY_LINKED.search(f"{answer.user_explanation} {answer.tech_explanation}"):
                return self._fail(f"SuperOffice refused to create a {so_type} for {crm_type} "
                                  f"{record_id}: it is already linked in ERP connection "
                                  f"{self.erp_connection_id}", answer.user_explanation,
                                  code="ALREADY_LINKED")
            return answer
        actor = ErpActor(erp_actor_type, None, dict(values))
        result = answer.value
        no_key = (f"Created in the ERP and linked to {crm_type} {record_id}, but SuperOffice "
                  "does not return the new ERP key: read it from the ERP (by this CRM "
                  "record) before relying on it")
        if isinstance(result, str) and result.strip():
            return Answer.good(actor.with_key(result.strip()))
        if result is False:
            return self._fail(f"SuperOffice did not create the ERP actor (answered false) "
                              f"while {what}", code="FALSE")
        if result is True or result is None:
            return self._answer("warning", actor, no_key, code="NO_ERP_KEY")
        if isinstance(result, dict):
            key = str(result.get("ErpKey") or "").strip()
            plugin: Answer[Any] = Answer.good(actor)
            if "Status" in result or "IsOk" in result:
                plugin = self._plugin_response(result, actor, what)
                if not plugin.ok:
                    return plugin
            if key:
                return replace(plugin, value=actor.with_key(key))
            said = f" ({plugin.user_explanation})" if plugin.user_explanation else ""
            return self._answer("warning", actor, no_key + said, plugin.tech_explanation,
                                plugin.error_code or "NO_ERP_KEY")
        return self._fail(f"SuperOffice gave an unexpected answer while {what}",
                          f"answer of type {type(result).__name__}", code="UNEXPECTED")

    #: The Dynamic archive's columns for :meth:`links` (table.column, FK traversal by ``.``).
    LINK_COLUMNS: tuple[str, ...] = (
        "erpexternalkey.erpexternalkey_id", "erpexternalkey.ErpKey",
        "erpexternalkey.ActorType", "erpexternalkey.ErpInternalKeyId.erpinternalkey_id",
        "erpexternalkey.ErpInternalKeyId.recordId", "erpexternalkey.ErpInternalKeyId.tableId")

    def links(self, kind: str) -> Answer[list[CrmLink]]:
        """The links SuperOffice holds for ``kind`` in the configured ERP connection, as
        :class:`SuperOfficeLink` (crm_id, erp_actor_type, erp_key, internal_key_id), so that a
        workspace starts from them.

        Read from the documented ``Dynamic`` archive provider over the link tables
        (``ErpExternalKey``: ErpConnectionId, ErpKey, ActorType; its ``ErpInternalKeyId`` ->
        ``ErpInternalKey``: tableId, recordId), filtered to the connection and the kind's
        table, ordered by key and paged like :meth:`records`: a few requests for any number
        of links. The per-record agent calls (``GetConnectionsAndDisplayFields``) and the
        ``activeErpLinks`` archive column say only *whether* a record is linked, not to
        which ERP key. A row of another table, an unknown actor type or an empty key fails
        the read (an error, never a silently shorter list)."""
        if kind not in TABLE_ID:
            return self._fail(f"Unknown kind {kind!r}; expected one of {', '.join(KINDS)}",
                              code="BAD_KIND")
        cols = self.LINK_COLUMNS
        params = {"$select": ",".join(cols),
                  "$filter": (f"erpexternalkey.ErpConnectionId eq {self.erp_connection_id} "
                              f"and erpexternalkey.ErpInternalKeyId.tableId eq {TABLE_ID[kind]}"),
                  "$orderBy": cols[0], "$top": str(self.page_size), "$skip": "0"}
        what = f"reading the {kind} links of ERP connection {self.erp_connection_id}"
        rows = self._pages("archive/dynamic", params, what)
        if not rows.ok:
            return rows  # type: ignore[return-value]
        out: list[CrmLink] = []
        allowed = ACTOR_TYPES[kind]  # type: ignore[index]
        for row in rows.value or []:
            cells = {str(k).lower(): v for k, v in row.items()}
            ext_id, erp_key, actor, int_id, record, table = (cells.get(c.lower()) for c in cols)
            where = f"link {_text(ext_id) or '?'}"
            if table not in (None, "") and str(table) not in (str(TABLE_ID[kind]),
                                                              CRM_ACTOR_TYPE[kind].lower()):
                return self._fail(f"SuperOffice listed a link of another table while {what}",
                                  f"{where}: tableId {table!r}", code="UNEXPECTED")
            actor_type = self._link_actor_type(actor)
            crm_id = _text(record)
            if actor_type not in allowed or not _text(erp_key) or crm_id in (None, "0"):
                return self._fail(f"SuperOffice listed a link that cannot be read while {what}",
                                  f"{where}: ActorType {actor!r}, ErpKey {erp_key!r}, "
                                  f"recordId {record!r}", code="UNEXPECTED")
            internal = _text(int_id)
            out.append(SuperOfficeLink(str(crm_id), actor_type, str(_text(erp_key)),
                                       int(internal) if internal and internal.isdigit()
                                       else None))
        return Answer.good(out)

    @staticmethod
    def _link_actor_type(value: Any) -> str | None:
        """An ``ActorType`` cell (the enum's name or number) in erpdata's vocabulary."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _ERP_ACTOR_TYPE_NUMBER.get(int(value))
        text = str(value or "").strip()
        if text.isdigit():
            return _ERP_ACTOR_TYPE_NUMBER.get(int(text))
        return {v.lower(): k for k, v in ERP_ACTOR_TYPE.items()}.get(text.lower())

    def force_resync(self, internal_key_ids: Sequence[int], *, from_erp: bool = False
                     ) -> Answer[bool]:
        """``ForceResync`` with ErpInternalKey ids (not CRM record ids, which SuperOffice's
        ForceResync cannot take; :meth:`links` gives each link's ``internal_key_id``): from
        the CRM to every connection (``ErpConnectionId`` 0), or from this ERP connection with
        ``from_erp``. An empty list would mean "all records" to SuperOffice, so it is
        refused."""
        ids = [int(i) for i in internal_key_ids]
        if not ids:
            return self._fail("No records given: an empty ForceResync would resync every "
                              "record, so nothing was sent", code="EMPTY")
        what = f"resyncing {len(ids)} record(s)"
        body = {"ErpConnectionId": self.erp_connection_id if from_erp else 0,
                "InternalKeyIds": ids}
        return self._agent_outcome(self._agent("ForceResync", body, what), what,
                                   false_state="error")

