"""Search the records of one kind, as SuperOffice's Connect dialog does.

:func:`search` is the ranked search the Connect page and ``erpdata search`` use: the query and
the names are normalised as the matcher normalises them (legal forms, accents, a person's name
order), so "Agder Ror" finds "Agder Rør AS"; hits rank exact, then prefix, then every word, then
merely similar, scored by rapidfuzz over all candidates at once; each hit says its city, org
number and what it is linked to. :func:`search_erp` is the literal search kept for scripts.

In :func:`search_erp`, a simple search matches text against the fields the mapping marks "show
in search" (every word must appear, case-insensitive); an empty text lists every ERP record of
the kind. An advanced
search takes criteria ``(field, operator, values)`` with the operators of SuperOffice's
``SearchRestrictionInfo`` for strings (``=``, ``begins``, ``contains``, ``ends``,
``notbegins``, ``notcontains``, ``notends``, ``isnot``, ``between``). Persons can be limited to
one parent actor (``SearchActorByParent``). Results are paged by key, so the millionth page
costs what the first does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import distance, fuzz, process

from erpdata.errors import ErpdataError
from erpdata.live.connectors.base import Connector, Restriction
from erpdata.normalize import company_name, fold_text, person_name
from erpdata.schema import Kind, check_side_kind, display_name_sql, field_names
from erpdata.steward.mappings import mappings
from erpdata.workspace import Workspace

# SQL built here (ruff S608): tables are <side>_<kind> after check_side_kind() and the fixed
# tables (links, decisions); columns are schema fields (field_names(), a criterion's field is
# refused unless it is one), operators come from OPERATORS, names from display_name_sql();
# every searched word and criterion value is bound as ``?``.

#: Operator -> SQL over a lower-cased column ``{c}`` and lower-cased values ``?``.
OPERATORS: dict[str, str] = {
    "=": "{c} = ?", "isnot": "{c} IS DISTINCT FROM ?", "begins": "starts_with({c}, ?)",
    "contains": "contains({c}, ?)", "ends": "ends_with({c}, ?)",
    "notbegins": "NOT coalesce(starts_with({c}, ?), false)",
    "notcontains": "NOT coalesce(contains({c}, ?), false)",
    "notends": "NOT coalesce(ends_with({c}, ?), false)", "between": "{c} BETWEEN ? AND ?",
}


class SearchError(ErpdataError):
    """A search that cannot be run as asked; says why."""


@dataclass
class Hits:
    """One page of search results and the key of the next page (None: the last page)."""

    rows: pd.DataFrame
    next_key: tuple[str, str] | int | None  # a key in the workspace, an offset in a live ERP
    total: int | None = None  # the number of hits, where known (the ranked search)


def _filters(side: str, kind: str, criteria: Sequence[tuple[str, str, Sequence[str]]],
             parent: str | None, alias: str) -> tuple[list[str], list[str]]:
    """SQL conditions (over table alias ``alias``) and their parameters for the present records
    that meet every criterion and hang under ``parent``; a bad criterion raises
    :class:`SearchError` saying why."""
    k: Kind = kind  # type: ignore[assignment]
    known = set(field_names(side, k))  # type: ignore[arg-type]
    where, params = [f"{alias}.missing_since IS NULL"], []
    for fld, op, values in criteria:
        if fld not in known:
            raise SearchError(f"{fld!r} is not an {side.upper()} {kind} field")
        if op not in OPERATORS:
            raise SearchError(f"unknown operator {op!r}: use one of {', '.join(OPERATORS)}")
        wanted = 2 if op == "between" else 1
        if len(values) != wanted:
            raise SearchError(f"{op} takes {wanted} value(s), not {len(values)}")
        where.append(OPERATORS[op].format(c=f"lower({alias}.{fld})"))
        params += [str(v).lower() for v in values]
    if parent is not None:
        if kind == "company" or side != "erp":
            raise SearchError("only ERP persons and projects hang under a parent actor")
        p_type, _, p_id = parent.partition(":")
        where.append(f"{alias}.parent_actor_type = ? AND {alias}.parent_key = ?")
        params += [p_type, p_id]
    return where, params


def search_erp(ws: Workspace, kind: str, text: str = "", *,
               criteria: Sequence[tuple[str, str, Sequence[str]]] = (),
               parent: str | None = None, after: tuple[str, str] | None = None,
               size: int = 50) -> Hits:
    """ERP records of ``kind`` containing every word of ``text`` literally and meeting every
    criterion, by (actor type, id): SuperOffice's own simple search, kept for scripts that
    want exactly it (the Connect page ranks with :func:`search`).

    ``parent``: ``actor_type:id`` of the actor persons or projects must hang under."""
    check_side_kind("erp", kind)
    k: Kind = kind  # type: ignore[assignment]
    known = set(field_names("erp", k))
    searchable = [m.erp_field for m in mappings(ws, k) if m.show_in_search] or ["name"]
    shown = [f for f in searchable if f in known]
    where, params = _filters("erp", kind, criteria, parent, "e")
    haystack = " || ' ' || ".join(f"coalesce(lower(e.{f}), '')" for f in shown) or "''"
    for word in text.lower().split():
        where.append(f"contains({haystack} || ' ' || lower(e.id), ?)")
        params.append(word)
    if after is not None:
        where.append("(e.actor_type, e.id) > (?, ?)")
        params += list(after)
    columns = ", ".join(f"e.{f}" for f in shown if f != "name")
    sql = f"""SELECT e.actor_type || ':' || e.id AS erp, {display_name_sql(k, 'e')} AS name
                     {', ' + columns if columns else ''}, e.actor_type, e.id
              FROM erp_{kind} e WHERE {' AND '.join(where)}
              ORDER BY e.actor_type, e.id LIMIT {int(size) + 1}"""  # noqa: S608 - kind checked by check_side_kind(); columns from field_names(); words bound as ?
    rows = ws.cursor().execute(sql, params).df()
    more = len(rows) > size
    rows = rows.head(size)
    key = (str(rows["actor_type"].iloc[-1]), str(rows["id"].iloc[-1])) if more else None
    return Hits(rows.drop(columns=["actor_type", "id"]), key)


#: Below this score (0-100) a hit that is neither exact, a prefix nor holds every word of the
#: query is left out: under it the names share little more than a few letters.
MIN_SCORE = 75.0

#: Tiers of a hit, best first: the rank orders by tier, then by score.
TIERS = ("exact", "prefix", "every word", "similar")

#: The columns of a ranked page (:func:`search`), in order.
RANKED_COLUMNS = ["rank", "score", "match", "key", "actor_type", "id", "name", "company", "city",
                  "org_number", "linked_to"]


@dataclass(frozen=True)
class _Candidates:
    """Every present record of one side and kind, with its name normalised as the matcher
    normalises it; ``digest`` tells whether the workspace still holds exactly these."""

    digest: tuple[object, ...]
    keys: np.ndarray  # "actor_type:id" (ERP) or the id (CRM)
    ids: np.ndarray  # lower-cased ids, for a query that is an id
    names: pa.Array  # normalised names ("" where none)
    literal: np.ndarray  # names only folded (legal forms kept): breaks ties between equals
    org_digits: pa.Array  # the org number's digits ("" where none)
    #: every position, by normalised name and then key: an empty search's order, sorted once
    #: per set of records (at 1,000,000 a sort takes a second, and the Connect page lists
    #: every record by name on arrival)
    by_name: np.ndarray


_CACHE: dict[tuple[str, str, str], _Candidates] = {}
_CACHE_LOCK = threading.Lock()


def normalise_names(kind: str, names: pd.Series, country: pd.Series | None = None
                    ) -> pd.Series:
    """Names in the matcher's comparison form, so that a search agrees with matching:
    companies without their legal form ("Agder Rør A/S" and "Agder Rør AS" → "agder ror"),
    persons without titles and as "first last", projects folded; diacritics folded in all."""
    if kind == "company":
        out = company_name(names, country, tokens=False)["name"]
    elif kind == "person":
        out = person_name(names)
    else:
        out = fold_text(names)
    return out.fillna("").astype(str)


@lru_cache(maxsize=256)
def _normalised_query(kind: str, text: str) -> str:
    """:func:`normalise_names` of one query (40 ms for a company name: the legal-form
    patterns are long; a page asks the same query on every rerun)."""
    return str(normalise_names(kind, pd.Series([text])).iloc[0])


@lru_cache(maxsize=256)
def _folded_query(text: str) -> str:
    """:func:`~erpdata.normalize.fold_text` of one query."""
    return str(fold_text(pd.Series([text])).fillna("").iloc[0])


def _record_sql(side: str, kind: str, alias: str) -> tuple[str, str, str]:
    """SQL for a record's search key, name and org number digits (the key ERP-style
    ``actor_type:id`` so one ERP id may be a customer and a supplier)."""
    k: Kind = kind  # type: ignore[assignment]
    key = f"{alias}.actor_type || ':' || {alias}.id" if side == "erp" else f"{alias}.id"
    org = (f"regexp_replace(coalesce({alias}.vatno, ''), '[^0-9]', '', 'g')"
           if kind == "company" else "''")
    return key, display_name_sql(k, alias), org


def _candidates(ws: Workspace, side: str, kind: str) -> _Candidates:
    """The normalised candidates, from a cache while the workspace holds the same records.

    Why a cache: normalising 50,000 company names takes 0.3 s, a digest of them 6 ms; records
    change by loads, commits and syncs, and the digest sees each of those."""
    key_sql, name_sql, org_sql = _record_sql(side, kind, "r")
    country = "r.country" if kind == "company" else "NULL"
    cur = ws.cursor()
    vatno = "r.vatno" if kind == "company" else "NULL"
    digest = cur.execute(
        f"SELECT count(*), sum(hash({key_sql}, {name_sql}, {country}, {vatno})) "  # noqa: S608 - side/kind checked by check_side_kind() in search(); expressions from _record_sql()
        f"FROM {side}_{kind} r WHERE r.missing_since IS NULL").fetchone() or (0, None)
    slot = (str(ws.path), side, kind)
    with _CACHE_LOCK:
        cached = _CACHE.get(slot)
    if cached is not None and cached.digest == tuple(digest):
        return cached
    frame = cur.execute(
        f"SELECT {key_sql} AS key, lower(r.id) AS id, {name_sql} AS name, {country} AS country, "  # noqa: S608 - side/kind checked by check_side_kind() in search(); expressions from _record_sql()
        f"{org_sql} AS org FROM {side}_{kind} r WHERE r.missing_since IS NULL "
        "ORDER BY key").df()
    names = normalise_names(kind, frame["name"], frame["country"] if kind == "company" else None)
    literal = fold_text(frame["name"]).fillna("").to_numpy(dtype=object)
    keys = frame["key"].to_numpy(dtype=object)
    made = _Candidates(tuple(digest), keys,
                       frame["id"].to_numpy(dtype=object), pa.array(names.to_numpy(), pa.string()),
                       literal,
                       pa.array(frame["org"].fillna("").to_numpy(), pa.string()),
                       np.lexsort((keys, names.fillna("").to_numpy(dtype=object))))
    with _CACHE_LOCK:
        _CACHE[slot] = made
    return made


def _np(a: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), dtype=bool)


def _rank(c: _Candidates, rows: np.ndarray, text: str, kind: str, min_score: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows in rank order, their scores, their tiers) for ``text``; vectorised over the
    candidates (Arrow kernels and rapidfuzz's ``cdist``), no Python loop over records."""
    if not text.strip():  # an empty search lists every record, by name
        n = len(rows)
        order = c.by_name if n == len(c.keys) else c.by_name[np.isin(c.by_name, rows)]
        return order, np.full(n, np.nan), np.full(n, len(TIERS) - 1)
    names = c.names.take(pa.array(rows, pa.int64()))
    query = _normalised_query(kind, text.strip())
    raw = text.strip().lower()
    exact = _np(pc.equal(names, query)) if query else np.zeros(len(rows), bool)
    exact |= c.ids[rows] == raw  # the id itself
    digits = re.sub(r"\D", "", raw)
    if len(digits) >= 6 and len(digits) >= len(re.sub(r"\s", "", raw)) - 4:  # an org number
        exact |= _np(pc.match_substring(c.org_digits.take(pa.array(rows, pa.int64())), digits))
    prefix = _np(pc.starts_with(names, query)) if query else np.zeros(len(rows), bool)
    words = np.ones(len(rows), bool) if query else np.zeros(len(rows), bool)
    for word in query.split():  # every word of the query starts a word of the name
        words &= _np(pc.match_substring_regex(names, rf"(?:^| ){re.escape(word)}"))
    tier = np.where(exact, 0, np.where(prefix, 1, np.where(words, 2, 3)))
    choices = names.to_numpy(zero_copy_only=False)
    scores = np.zeros(len(rows), np.float32)
    if query and len(rows):
        for scorer, scale in ((fuzz.ratio, 1.0), (fuzz.token_sort_ratio, 1.0),
                              (distance.JaroWinkler.normalized_similarity, 100.0)):
            got = process.cdist([query], choices, scorer=scorer, dtype=np.float32,
                                workers=-1)[0] * scale
            scores = np.maximum(scores, got)
    scores = np.where(tier == 0, 100.0, np.round(scores.astype(np.float64), 1))
    keep = (tier < 3) | (scores >= min_score)
    rows, scores, tier = rows[keep], scores[keep], tier[keep]
    # Among equals, the name as written wins: "Berg Bygg AB" before "Berg Bygg" for "Berg
    # Bygg AB", though both are "berg bygg" without their legal forms.
    literal = process.cdist([_folded_query(text.strip())], c.literal[rows], scorer=fuzz.ratio,
                            dtype=np.float32, workers=-1)[0] if len(rows) else np.zeros(0)
    order = np.lexsort((c.keys[rows], -literal, -scores, tier))
    return rows[order], scores[order], tier[order]


def search(ws: Workspace, text: str = "", *, side: str = "erp", kind: str = "company",
           criteria: Sequence[tuple[str, str, Sequence[str]]] = (),
           parent: str | None = None, offset: int = 0, size: int = 50,
           min_score: float = MIN_SCORE) -> Hits:
    """Records of ``side`` and ``kind`` ranked by how well their name matches ``text``, one
    page of them: the Connect page and ``erpdata search`` both show exactly this.

    Why fuzzy: stewards type names as they remember them ("Agder Ror", "Agder Rør A/S" for
    "Agder Rør AS"); a literal search finds nothing then, and they create a duplicate. The
    query and the names are normalised as the matcher does (:func:`normalise_names`). Hits
    rank by tier (:data:`TIERS`: the same name, the id or org number itself; the name starts
    with the query; every word of the query starts a word of the name; merely similar), then by
    score, the best of rapidfuzz's ratio, token-sort ratio and Jaro-Winkler (0-100), then by
    key. Similar hits below ``min_score`` are left out. An empty ``text`` lists every record by
    name. ``criteria`` and ``parent`` narrow the candidates as in :func:`search_erp`.

    ``rows`` has :data:`RANKED_COLUMNS`: ``key`` (``actor_type:id`` for the ERP, the id for
    the CRM), ``company`` (a person's or project's company), ``city``, ``org_number`` (of the
    company), ``linked_to`` (the record linked to it on the other side, named, or None);
    ``next_key`` is the offset of the next page, ``total`` the number of hits."""
    check_side_kind(side, kind)
    if size < 1 or offset < 0:
        raise SearchError("a page needs a size of at least 1 and an offset of at least 0")
    cands = _candidates(ws, side, kind)
    rows = np.arange(len(cands.keys))
    if criteria or parent is not None:
        where, params = _filters(side, kind, criteria, parent, "r")
        key_sql, _, _ = _record_sql(side, kind, "r")
        allowed = ws.cursor().execute(f"SELECT {key_sql} FROM {side}_{kind} r "  # noqa: S608 - side/kind checked by check_side_kind(); where from _filters(), values bound as ?
                                      f"WHERE {' AND '.join(where)}", params).df().iloc[:, 0]
        rows = rows[pd.Index(cands.keys).isin(allowed)]
    ranked, scores, tiers = _rank(cands, rows, text, kind, min_score)
    page = slice(offset, offset + size)
    found = details(ws, side, kind, cands.keys[ranked[page]].tolist())
    found.insert(0, "rank", np.arange(offset + 1, offset + 1 + len(found)))
    found.insert(1, "score", [None if np.isnan(s) else float(s) for s in scores[page]])
    found.insert(2, "match", [TIERS[t] if text.strip() else None for t in tiers[page]])
    total = len(ranked)
    return Hits(found[RANKED_COLUMNS], offset + size if total > offset + size else None, total)


def details(ws: Workspace, side: str, kind: str, keys: Sequence[str]) -> pd.DataFrame:
    """What a steward needs to tell records apart, for ``keys`` (``actor_type:id`` for the ERP,
    ids for the CRM) in their order, present records only: ``key``, ``actor_type``, ``id``,
    ``name``, ``company`` (of a person or project), ``city``, ``org_number``, ``linked_to``."""
    check_side_kind(side, kind)
    k: Kind = kind  # type: ignore[assignment]
    key_sql, name_sql, _ = _record_sql(side, kind, "r")
    # an accept that waits for its commit claims the record as surely as a link: a steward
    # connecting it elsewhere would be refused at commit, so the hit says so now
    # only the page's records' links and accepts: a link column for 25 hits must not join
    # every accept of a million-record workspace (87 ms at 1M for the ERP side)
    column = "erp_actor_type || ':' || erp_id" if side == "erp" else "crm_id"
    mine = f"{column} IN (SELECT key FROM search_page)"  # noqa: S608 - fixed columns
    waiting = ("SELECT crm_id, erp_actor_type, erp_id FROM decisions WHERE superseded_by IS NULL "  # noqa: S608 - side/kind checked by check_side_kind()
               f"AND batch_id IS NULL AND decision = 'accept' AND kind = '{kind}' AND {mine}")
    links = (f"(SELECT crm_id, erp_actor_type, erp_id, '' AS note FROM links "  # noqa: S608 - side/kind checked by check_side_kind()
             f"WHERE kind = '{kind}' AND {mine} UNION ALL "
             f"SELECT *, ', accepted, not yet committed' FROM ({waiting}))")
    if side == "erp":
        link_on = "l.erp_actor_type = r.actor_type AND l.erp_id = r.id"
        partner = (f"SELECT string_agg(DISTINCT {display_name_sql(k, 'o')} || ' (CRM ' || o.id "  # noqa: S608 - side/kind checked by check_side_kind(); names from display_name_sql()
                   f"|| l.note || ')', '; ') FROM {links} l JOIN crm_{kind} o "
                   f"ON o.id = l.crm_id WHERE {link_on}")
        company_on = ("o.id = r.parent_key AND (r.parent_actor_type IS NULL OR "
                      "o.actor_type = r.parent_actor_type)")
    else:
        partner = (f"SELECT string_agg(DISTINCT {display_name_sql(k, 'o')} || ' (' || "  # noqa: S608 - side/kind checked by check_side_kind(); names from display_name_sql()
                   f"o.actor_type || ' ' || o.id || l.note || ')', '; ') FROM {links} l "
                   f"JOIN erp_{kind} o ON o.actor_type = l.erp_actor_type AND o.id = l.erp_id "
                   f"WHERE l.crm_id = r.id")
        company_on = "o.id = r.company_id"
    if kind == "company":
        company = "NULL"
        city = "coalesce(r.postalcity, r.streetcity)"
        org = "r.vatno"
    else:  # a person's or project's place and number are its company's
        parent = f"(SELECT {{col}} FROM {side}_company o WHERE {company_on} LIMIT 1)"  # noqa: S608 - side/kind checked by check_side_kind(); company_on a fixed join
        company = parent.format(col="o.name")
        city = parent.format(col="coalesce(o.postalcity, o.streetcity)")
        org = parent.format(col="o.vatno")
    actor = "r.actor_type" if side == "erp" else "NULL"
    # the page's ids as a list the scan filters on, before the join on the whole key: else the
    # join reads (and, for the ERP, builds the key of) every record (70 ms at 1M)
    ids = list(dict.fromkeys(str(k).partition(":")[2] if side == "erp" else str(k)
                             for k in keys))
    cur = ws.cursor()
    cur.register("search_page", pd.DataFrame({"key": pd.Series(list(keys), dtype=object),
                                              "pos": np.arange(len(keys))}))
    try:
        out = cur.execute(
            f"""SELECT p.key, {actor} AS actor_type, r.id, {name_sql} AS name,
                       {company} AS company, {city} AS city, {org} AS org_number,
                       ({partner}) AS linked_to
                FROM search_page p JOIN {side}_{kind} r ON {key_sql} = p.key
                WHERE r.missing_since IS NULL AND r.id IN ({', '.join('?' * len(ids)) or 'NULL'})
                ORDER BY p.pos""", ids).df()  # noqa: S608 - side/kind checked by check_side_kind(); every piece built above from fixed SQL; ids bound as ?
    finally:
        cur.unregister("search_page")
    return out.astype(object).where(out.notna(), None)


def described(ws: Workspace, kind: str, hits: Hits) -> Hits:
    """A live ERP's page of hits (:func:`search_live`) in the shape of :func:`search`'s, so
    that a page shows both alike: city, org number and the workspace's link of each hit (the
    live system ranks its own hits; they keep its order)."""
    check_side_kind("erp", kind)
    rows = hits.rows
    keys = rows["erp"].astype(str).tolist() if len(rows) else []
    linked = (details(ws, "erp", kind, keys).set_index("key")["linked_to"] if keys
              else pd.Series(dtype=object))

    def column(*names: str) -> list[object]:
        got = [rows[n] for n in names if n in rows]
        if not got:
            return [None] * len(rows)
        merged = got[0]
        for more in got[1:]:
            merged = merged.fillna(more)
        return [None if pd.isna(v) else v for v in merged]

    parts = [k.partition(":") for k in keys]
    out = pd.DataFrame({
        "rank": list(range(1, len(rows) + 1)), "score": [None] * len(rows),
        "match": [None] * len(rows), "key": keys, "actor_type": [a for a, _, _ in parts],
        "id": [i for _, _, i in parts], "name": rows["name"].tolist() if len(rows) else [],
        "company": [None] * len(rows), "city": column("postalcity", "streetcity"),
        "org_number": column("vatno"),
        "linked_to": [linked.get(k) for k in keys]},
        columns=RANKED_COLUMNS)
    return Hits(out.astype(object).where(out.notna(), None), hits.next_key, hits.total)


def linked_label(linked_to: object) -> str:
    """The plain words a steward reads for a hit's ``linked_to``."""
    return f"already linked to {linked_to}" if linked_to else "not linked"


def parent_of(ws: Workspace, kind: str, crm_id: str) -> str | None:
    """The ERP actor (``actor_type:id``) a person's or project's CRM company is linked to."""
    check_side_kind("crm", kind)  # kind names the table below: only a known one
    if kind == "company":
        return None
    row = ws.cursor().execute(
        f"""SELECT l.erp_actor_type || ':' || l.erp_id FROM crm_{kind} c
            JOIN links l ON l.kind = 'company' AND l.crm_id = c.company_id
            WHERE c.id = ?""", [crm_id]).fetchone()  # noqa: S608 - kind checked by check_side_kind(); crm_id bound as ?
    return row[0] if row else None



def crm_record(ws: Workspace, kind: str, crm_id: str) -> dict[str, object] | None:
    """One present CRM record as a dict (with ``display_name``), or None."""
    check_side_kind("crm", kind)
    k: Kind = kind  # type: ignore[assignment]
    rows = ws.cursor().execute(
        f"SELECT *, {display_name_sql(k, 'c')} AS display_name FROM crm_{kind} c "  # noqa: S608 - kind checked by check_side_kind(); crm_id bound as ?
        "WHERE id = ? AND missing_since IS NULL", [crm_id]).df()
    return None if rows.empty else rows.iloc[0].to_dict()


def search_live(system: Connector, actor_type: str, text: str = "", *,
                criteria: Sequence[tuple[str, str, Sequence[str]]] = (),
                parent: str | None = None, offset: int = 0, size: int = 50) -> Hits:
    """The same search, asked of the live ERP (the Connect dialog against the system itself):
    ``next_key`` is the offset of the next page. A failed call raises
    :class:`~erpdata.live.connectors.base.ConnectorError` with the system's explanations; it never
    comes back as an empty page."""
    if criteria:
        restrictions = [Restriction(f, op, tuple(str(v) for v in values))
                        for f, op, values in criteria]
        if text.strip():
            restrictions.append(Restriction("name", "contains", (text.strip(),)))
        if parent is not None:
            p_type, _, p_id = parent.partition(":")
            restrictions += [Restriction("parent_actor_type", "=", (p_type,)),
                             Restriction("parent_erp_key", "=", (p_id,))]
        answer = system.search_advanced(actor_type, restrictions, offset=offset, limit=size)
    elif parent is not None:
        p_type, _, p_id = parent.partition(":")
        answer = system.search_by_parent(actor_type, text, p_type, p_id, offset=offset,
                                         limit=size)
    else:
        answer = system.search(actor_type, text, offset=offset, limit=size)
    page = answer.unwrap()
    rows = pd.DataFrame([{"erp": f"{a.actor_type}:{a.erp_key}",
                          "name": " ".join(v for v in (a.fields.get("name"),
                                                       a.fields.get("firstname"),
                                                       a.fields.get("lastname")) if v),
                          **{k: v for k, v in a.fields.items() if v is not None}}
                         for a in page.items])
    if rows.empty:
        rows = pd.DataFrame(columns=["erp", "name"])
    return Hits(rows, offset + size if page.more else None)
