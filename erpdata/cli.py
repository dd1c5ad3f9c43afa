"""The ``erpdata`` command line: headless batch work on a workspace.

Why a CLI beside the workbench: migrations and nightly link reports run from scripts and cron,
and every steward task must be scriptable. Output meant for scripts (``status --json``) is a
contract; messages go to stderr, and any error exits non-zero with the engine's own text.

Commands: ``demo``, ``load``, ``match``, ``match-files``, ``status``, ``accept``, ``reject``,
``commit``, ``batches``, ``undo``, ``disconnect``, ``report``, ``mapping``, ``role``,
``connect``, ``sync``, ``check``, ``search``.
``--workspace`` (or
``$ERPDATA_WORKSPACE``, else ``./workspace.duckdb``) may stand before or after the command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from erpdata.errors import ErpdataError
from erpdata.schema import ACTOR_TYPES, KINDS, SIDES
from erpdata.workspace import Workspace, resolve_path


def _tqdm_progress(desc: str) -> tuple[Callable[[str, float], None], Callable[[], None]]:
    """A progress callback drawing a tqdm bar on stderr, and a function that closes it."""
    from tqdm import tqdm

    bar = tqdm(total=100, desc=desc, unit="%", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())

    def update(stage: str, fraction: float) -> None:
        bar.set_postfix_str(stage)
        bar.update(max(0, round(fraction * 100) - bar.n))

    return update, bar.close


@contextmanager
def _removed_on_failure(path: Path) -> Iterator[None]:
    """A workspace file this command creates is removed again if the command fails, so a
    failed first load or demo never leaves an empty or half-built workspace behind."""
    created = not path.exists()
    try:
        yield
    except BaseException:
        if created:
            for f in (path, path.with_name(path.name + ".wal")):
                f.unlink(missing_ok=True)
        raise


def _cmd_demo(args: argparse.Namespace) -> int:
    from erpdata.demo import build_demo

    path = resolve_path(args.workspace)
    update, close = _tqdm_progress("demo")
    try:
        with _removed_on_failure(path):
            build_demo(path, size=args.size, seed=args.seed,
                       export_dir=Path(args.export_dir) if args.export_dir else None,
                       progress=update)
    finally:
        close()
    with Workspace.open(path) as ws:
        counts = ws.counts()
    print(f"demo workspace {path}: " + _count_line(counts), file=sys.stderr)
    return 0


#: Cells left empty by a lenient load that the CLI lists on stderr (--json lists every one).
_PROBLEMS_SHOWN = 10


def _cmd_load(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from erpdata.ingest.load import load_file

    if args.source is not None:
        if args.partial or args.lenient:
            raise ErpdataError("--partial and --lenient apply to loading a FILE; with --from, "
                               "--changed pulls only the changed records (a partial load)")
        return _load_from(args)
    if args.file is None:
        raise ErpdataError("load needs a FILE, or --from NAME to pull from a connection")
    path = resolve_path(args.workspace)
    update, close = _tqdm_progress(f"load {args.side} {args.kind}")
    try:
        with _removed_on_failure(path), Workspace.open(path) as ws:
            result = load_file(ws, args.file, side=args.side, kind=args.kind,
                               mapping=args.mapping, actor_type=args.actor_type,
                               user=args.user, progress=update, partial=args.partial,
                               lenient=args.lenient)
    finally:
        close()
    if args.json:
        print(json.dumps(asdict(result), default=str, indent=2, ensure_ascii=False))
        return 0
    err = sys.stderr
    print(f"read {result.format}" + (f", {result.encoding}" if result.encoding else "")
          + (f", delimiter {result.delimiter!r}" if result.delimiter else ""), file=err)
    print("column mapping:", file=err)
    width = max((len(h) for h, _, _ in result.columns), default=0)
    for header, field, how in result.columns:
        print(f"  {header:<{width}}  -> {field:<14} ({how})", file=err)
    for line in result.proposal:  # the key and parent, and why (header, values, mapping file)
        print(line, file=err)
    if result.types:
        print("comparison types for matching: " + ", ".join(
            f"{f} = {t}" for f, t in result.types.items()), file=err)
    for warning in result.warnings:
        print(f"warning: {warning}", file=err)
    if result.problems:  # lenient: each cell left empty, the first few here
        print(f"{len(result.problems)} cell(s) did not parse and were left empty "
              "(lenient load):", file=err)
        for problem in result.problems[:_PROBLEMS_SHOWN]:
            print(f"  {problem}", file=err)
        if len(result.problems) > _PROBLEMS_SHOWN:
            print(f"  ... and {len(result.problems) - _PROBLEMS_SHOWN} more (--json lists "
                  "them all)", file=err)
    print(result.summary(), file=err)
    return 0


def _load_from(args: argparse.Namespace) -> int:
    """``load --from NAME``: pull the records of a live system (all, or with --changed only
    those changed since the last pull)."""
    from erpdata.live.connections import get_connection, open_connector
    from erpdata.live.sync import pull, reasons

    with _existing(args) as ws:
        conn = get_connection(ws, args.source)
        if conn.side != args.side:
            raise ErpdataError(f"connection {conn.name!r} is the {conn.side.upper()} side, "
                               f"not {args.side.upper()}")
        system = open_connector(conn)
        update, close = _tqdm_progress(f"load {args.side} {args.kind} from {conn.name}")
        try:
            said: list[str] = []
            result = pull(ws, conn.name, system, args.kind, user=args.user,
                          full=not args.changed, progress=update, said=said)
        finally:
            close()
            system.close()
    print(result.summary() if result else f"{conn.name}: no {args.kind} records changed"
          + reasons(said), file=sys.stderr)
    return 0


def _adopt_links(ws: Workspace, name: str) -> int:
    """``connect links NAME``: adopt the links the CRM of connection NAME holds, companies
    first (a person's link is checked against its company's)."""
    from erpdata.live.adopt import adopt_every_kind
    from erpdata.live.connections import get_connection, open_connector

    conn = get_connection(ws, name)
    if conn.side != "crm":
        raise ErpdataError(f"connection {name!r} is the ERP side: the links are held by the "
                           "CRM, so name the CRM's connection")
    system = open_connector(conn)
    try:
        for done in adopt_every_kind(ws, conn.name, system):  # type: ignore[arg-type]
            print(done.summary(), file=sys.stderr)
    finally:
        system.close()
    return 0


def _options(pairs: Sequence[str] | None) -> dict[str, str]:
    """``--option KEY=VALUE`` pairs as a dict; a pair without ``=`` is refused by name."""
    options: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ErpdataError(f"--option {pair!r}: give it as KEY=VALUE, e.g. "
                               "--option customer_category=Kunde")
        options[key.strip()] = value.strip()
    return options


def _cmd_connect(args: argparse.Namespace) -> int:
    from erpdata.live.connections import (
        Connection,
        add_connection,
        check,
        connections,
        secret_variable,
        setup_connection,
        setup_message,
        test_connection,
    )

    if args.action != "list" and not args.name:
        raise ErpdataError(f"connect {args.action} needs the connection's NAME")
    if args.action == "add" and not (args.type and args.url):
        raise ErpdataError("connect add needs --type (files, tryton, superoffice) and --url")
    if args.action == "add":
        side = args.side or ("crm" if args.type == "superoffice" else "erp")
        conn = Connection(args.name, args.type, side, args.url, args.database,
                          args.username, not args.no_verify_tls, _options(args.option))
        check(conn)  # before a workspace is made for it
        # connecting to a live system is a natural first step: the workspace is made for it
        if not resolve_path(args.workspace).exists():
            print(f"new workspace at {resolve_path(args.workspace)}", file=sys.stderr)
    with Workspace.open(args.workspace) if args.action == "add" else _existing(args) as ws:
        if args.action == "add":
            add_connection(ws, conn)
            print(f"connection {conn.name}: {conn.type} ({conn.side}) at {conn.url}; its "
                  f"secret is read from ${secret_variable(conn.name)}", file=sys.stderr)
            return 0
        if args.action == "list":
            for c in connections(ws):
                print(f"{c.name}\t{c.type}\t{c.side}\t{c.url}\t{c.database or ''}\t"
                      f"{c.username or ''}")
            return 0
        if args.action == "links":
            return _adopt_links(ws, args.name)
        if args.action == "setup":
            made = setup_connection(ws, args.name)
            print(f"{args.name}: set up: {setup_message(made)}"
                  + (f" ({made.tech_explanation})" if made.tech_explanation else ""),
                  file=sys.stderr)
            return 0 if made.ok else 1
        answer = test_connection(ws, args.name)
    print(f"{args.name}: {answer.state}: {answer.said()}"
          + (f" ({answer.tech_explanation})" if answer.tech_explanation else ""),
          file=sys.stderr)
    return 0 if answer.ok else 1


def _cmd_sync(args: argparse.Namespace) -> int:
    from erpdata.live.sync import retry_failed, sync_now

    with _existing(args) as ws:
        if args.retry_failed:
            print(f"{retry_failed(ws, batch_id=args.batch, user=args.user)} failed action(s) "
                  "queued again", file=sys.stderr)
        update, close = _tqdm_progress("sync")
        try:
            report = sync_now(ws, batch_id=args.batch, erp_name=args.erp, crm_name=args.crm,
                              user=args.user, progress=update)
        finally:
            close()
    print(report.summary(), file=sys.stderr)
    for what, summary in report.pulled.items():
        print(f"  {what}: {summary}", file=sys.stderr)
    return 1 if report.pushed.statuses.get("error") else 0


def _cmd_check(args: argparse.Namespace) -> int:
    from erpdata.check import check

    with _existing(args) as ws:
        found = check(ws)
    if args.json:
        print(json.dumps([{"invariant": v.invariant, "message": v.message} for v in found],
                         indent=2, ensure_ascii=False))
    for v in found:
        print(v, file=sys.stderr)
    print(f"{len(found)} violation(s)" if found else "ok: every invariant holds",
          file=sys.stderr)
    return 1 if found else 0


def _cmd_match(args: argparse.Namespace) -> int:
    from erpdata.matching import match_workspace
    from erpdata.matching.runs import explain, nothing_to_compare, run_notes, scoring_states
    from erpdata.matching.spec import inference_table

    kinds = [args.kind] if args.kind else list(KINDS)
    loaded = 0  # kinds with records on both sides
    with Workspace.open(args.workspace) as ws:
        counts = ws.counts()
        for kind in kinds:
            have = {side: counts[side][kind] for side in SIDES}
            if not args.kind and not all(have.values()):
                # a workspace of companies only is a normal start: the kinds not loaded on
                # both sides are skipped, said once each; asked for by name, it is an error
                print(f"note: {kind}: skipped: nothing to match ({have['crm']} CRM and "
                      f"{have['erp']} ERP {kind} records)", file=sys.stderr)
                continue
            loaded += 1
            plan = explain(ws.cursor(), kind)
            print(f"{kind}: comparing (column, type, why):\n" + inference_table(plan.inference),
                  file=sys.stderr)
            if not plan.compares_anything and all(have.values()):
                # skip, not fail: the other kinds may well be matchable
                print(f"note: {kind}: skipped: {nothing_to_compare(kind)}", file=sys.stderr)
                continue
            update, close = _tqdm_progress(f"match {kind}")
            try:
                result = match_workspace(ws, kind, user=args.user, progress=update, plan=plan,
                                         refit=args.refit)
            finally:
                close()
            links = int(result.candidates["match"].sum())
            bands = result.candidates.loc[result.candidates["match"] == 1, "band"]
            states = scoring_states(ws, kind)
            print(f"{kind}: {links} suggested links ({int((bands == 'auto').sum())} auto, "
                  f"{int((bands == 'review').sum())} to review), "
                  f"{int(result.candidates['conflict'].sum())} in conflicts; "
                  f"scored {states['scored']}, no candidate {states['no_candidate']}; "
                  f"thresholds auto {result.thresholds['auto']:.3f}, "
                  f"review {result.thresholds['review']:.3f}", file=sys.stderr)
            for note in run_notes(result.stats):  # a kept model, a floored threshold
                print(f"note: {kind}: {note}", file=sys.stderr)
    if not args.kind and not loaded:
        raise ErpdataError("nothing to match: no kind has records on both sides; load the "
                           "CRM and the ERP records first ('erpdata load' or 'erpdata sync')")
    return 0


def _cmd_match_files(args: argparse.Namespace) -> int:
    from erpdata.matching import parse_compare
    from erpdata.matching.on_files import match_files
    from erpdata.matching.spec import Inference, inference_table

    try:
        compare = [parse_compare(spec) for spec in args.compare or []]
    except ValueError as exc:
        raise ErpdataError(str(exc)) from exc
    def inferred(inference: list[Inference]) -> None:
        print("comparing (column, type, why):\n" + inference_table(inference), file=sys.stderr)

    update, close = _tqdm_progress("match-files")
    try:
        result = match_files(args.crm_file, args.erp_file, args.out, compare=compare,
                             many_to_many=args.many_to_many, progress=update, inferred=inferred)
    except ValueError as exc:  # a --compare naming a column the files do not have
        raise ErpdataError(str(exc)) from exc
    finally:
        close()
    links = int(result.candidates["match"].sum())
    print(f"{args.out}: {len(result.candidates)} candidate rows, {links} links; compared "
          + ", ".join(f"{'+'.join(c.columns('crm'))}={'+'.join(c.columns('erp'))}:{c.type}"
                      for c in result.comparisons),
          file=sys.stderr)
    return 0


def _count_line(counts: dict[str, Any]) -> str:
    return "; ".join(
        f"{side}: " + ", ".join(f"{counts[side][k]} {k}" for k in KINDS) for side in SIDES
    )


def _cmd_status(args: argparse.Namespace) -> int:
    path = resolve_path(args.workspace)
    if not path.exists():
        raise ErpdataError(f"no workspace at {path}: create one with 'erpdata demo' or "
                           "'erpdata load', or point --workspace at one")
    with Workspace.open(path) as ws:
        counts = ws.counts()
        version = ws.version
    if args.json:
        print(json.dumps({**counts, "workspace": str(path), "schema_version": version}))
        return 0
    print(f"workspace {path} (schema {version})")
    print(f"{'':6}" + "".join(f"{k:>10}" for k in KINDS))
    for side in SIDES:
        print(f"{side:6}" + "".join(f"{counts[side][k]:>10}" for k in KINDS))
    print(f"{'linked':6}" + "".join(f"{counts['links'][k]:>10}" for k in KINDS))
    missing = sum(counts["missing"][s][k] for s in SIDES for k in KINDS)
    if missing:
        print(f"{missing} record(s) are flagged missing from their latest export")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    """``search``: the Connect page's ranked search, one page of hits (stdout: a table, or
    with --json a list of objects for scripts)."""
    from erpdata.steward.search import linked_label, search

    if args.page < 1 or args.size < 1:
        raise ErpdataError("--page and --size must be at least 1")
    with _existing(args) as ws:
        hits = search(ws, " ".join(args.text), side=args.side, kind=args.kind,
                      offset=(args.page - 1) * args.size, size=args.size)
    rows = hits.rows
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "key"}
                          for r in rows.to_dict("records")], ensure_ascii=False, indent=2))
    elif len(rows):
        table = {"rank": rows["rank"],
                 "score": [f"{v:.1f}" if v is not None else "" for v in rows["score"]],
                 "match": rows["match"].fillna(""),
                 "type": rows["actor_type"].fillna(args.kind), "id": rows["id"],
                 "name": rows["name"].fillna("")}
        if args.kind != "company":
            table["company"] = rows["company"].fillna("")
        table |= {"city": rows["city"].fillna(""), "org number": rows["org_number"].fillna(""),
                  "linked to": [linked_label(v) for v in rows["linked_to"]]}
        import pandas as pd

        print(pd.DataFrame(table).to_string(index=False))
    first = (args.page - 1) * args.size + 1
    print(f"{hits.total} hit(s)" + (f"; showing {first}-{first + len(rows) - 1}" if len(rows)
                                    else "")
          + (f"; --page {args.page + 1} for more" if hits.next_key is not None else ""),
          file=sys.stderr)
    return 0


def _existing(args: argparse.Namespace) -> Workspace:
    """Open the workspace a command works on; it must exist already."""
    path = resolve_path(args.workspace)
    if not path.exists():
        raise ErpdataError(f"no workspace at {path}: create one with 'erpdata demo' or "
                           "'erpdata load', or point --workspace at one")
    return Workspace.open(path)


def _cmd_decide(args: argparse.Namespace) -> int:
    from erpdata.steward.decisions import Filter, decide_bulk

    f = Filter(kind=args.kind, band=args.band, min_probability=args.min_probability,
               max_probability=args.max_probability, country=args.country,
               actor_type=args.actor_type, conflict=args.conflict, state=args.state)
    with _existing(args) as ws:
        result = decide_bulk(ws, args.command, f, user=args.user, dry_run=args.dry_run)
    verb = "would " + args.command if args.dry_run else args.command + "ed"
    print(f"{verb} {result.count} suggested {args.kind} link(s)"
          + (f"; left out {result.left_out} whose records are linked or accepted elsewhere"
             if result.left_out else "")
          + (f"; left {result.conflicts} in conflicts for review (--conflict to take them)"
             if result.conflicts else "")
          + (f"; left out {result.skipped} skipped (--state skipped to take them)"
             if result.skipped else ""),
          file=sys.stderr)
    if len(result.sample):
        print(result.sample.to_string(index=False), file=sys.stderr)
    return 0


def _cmd_commit(args: argparse.Namespace) -> int:
    from erpdata.steward.commit import commit

    kinds = (args.kind,) if args.kind else KINDS
    with _existing(args) as ws:
        result = commit(ws, kinds, user=args.user, dry_run=args.dry_run)
    print(result.summary(), file=sys.stderr)
    if len(result.actions):
        print(result.actions[["action", "kind", "crm_id", "erp_actor_type", "erp_id"]]
              .to_string(index=False), file=sys.stderr)
    if len(result.left_out):
        print("left out (still accepted, fix and commit again):", file=sys.stderr)
        print(result.left_out.to_string(index=False), file=sys.stderr)
    return 0


def _cmd_batches(args: argparse.Namespace) -> int:
    from erpdata.steward.commit import batches

    with _existing(args) as ws:
        frame = batches(ws)
    print(frame.to_string(index=False) if len(frame) else "no batches yet")
    return 0


def _cmd_undo(args: argparse.Namespace) -> int:
    from erpdata.steward.commit import undo

    with _existing(args) as ws:
        done = undo(ws, args.batch_id, user=args.user)
    print(f"batch {args.batch_id} undone: {done['links']} link(s) removed, {done['relinked']} "
          f"restored, {done['fields']} field value(s) restored, {done['compensating']} "
          "compensating action(s) queued", file=sys.stderr)
    return 0


def _cmd_disconnect(args: argparse.Namespace) -> int:
    from erpdata.steward.commit import disconnect

    with _existing(args) as ws:
        result = disconnect(ws, args.kind, args.crm_ids, user=args.user)
    print(result.summary(), file=sys.stderr)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from erpdata.steward.reports import export_reports

    update, close = _tqdm_progress(f"report {args.format}")
    try:
        with _existing(args) as ws:
            written = export_reports(ws, args.format, args.out, delimiter=args.delimiter,
                                     progress=update)
    finally:
        close()
    for path in written:
        print(path)
    return 0


def _delimiter(text: str) -> str:
    """A CSV delimiter from the command line: ``tab`` (or ``\\t``) is a tab, since a literal
    one is hard to type in a shell."""
    from erpdata.steward.reports import DELIMITERS

    value = "\t" if text.lower() in ("tab", "\\t") else text
    if value not in DELIMITERS:
        raise argparse.ArgumentTypeError(f"unknown delimiter {text!r}: use ';', ',', tab or '|'")
    return value


def _cmd_mapping(args: argparse.Namespace) -> int:
    from erpdata.steward.mappings import export_toml, import_toml

    with _existing(args) as ws:
        if args.action == "export":
            print(export_toml(ws, args.file))
        else:
            counts = import_toml(ws, args.file, user=args.user)
            print(", ".join(f"{n} {kind} field(s)" for kind, n in counts.items())
                  + f" imported from {args.file}", file=sys.stderr)
    return 0


def _cmd_role(args: argparse.Namespace) -> int:
    from erpdata.roles import grant

    with _existing(args) as ws:
        grant(ws, args.name, args.role, user=args.user)
    print(f"{args.name} is now a {args.role}", file=sys.stderr)
    return 0


def _add_stewardship(sub: Any, common: argparse.ArgumentParser) -> None:
    """accept / reject / commit / batches / undo / disconnect / report / mapping."""
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--user", help="who acts (default: $ERPDATA_USER or the login name)")
    for name, what in (("accept", "accept"), ("reject", "reject (never suggested again)")):
        p = sub.add_parser(name, parents=[common, who],
                           help=f"{what} the suggested links that match the filters")
        p.add_argument("--kind", choices=KINDS, default="company", help="default: company")
        p.add_argument("--band", choices=("auto", "review", "low"))
        p.add_argument("--min-probability", type=float, metavar="P")
        p.add_argument("--max-probability", type=float, metavar="P")
        p.add_argument("--country", help="the CRM company's country")
        p.add_argument("--actor-type", choices=[a for k in KINDS for a in ACTOR_TYPES[k]])
        p.add_argument("--conflict", action=argparse.BooleanOptionalAction, default=None,
                       help="only pairs in (or not in) a conflict")
        p.add_argument("--state", choices=("undecided", "skipped"), default=None,
                       help="the pairs to decide: undecided ones (default) or skipped ones")
        p.add_argument("--dry-run", action="store_true",
                       help="say how many pairs it would touch, with a sample; write nothing")
        p.set_defaults(func=_cmd_decide)

    commit = sub.add_parser("commit", parents=[common, who],
                            help="turn accepted decisions into links and queued actions")
    commit.add_argument("--kind", choices=KINDS, help="one kind (default: all)")
    commit.add_argument("--dry-run", action="store_true",
                        help="show the batch (counts per action, a sample); write nothing")
    commit.set_defaults(func=_cmd_commit)

    sub.add_parser("batches", parents=[common], help="list committed batches"
                   ).set_defaults(func=_cmd_batches)

    undo = sub.add_parser("undo", parents=[common, who], help="undo a batch exactly")
    undo.add_argument("batch_id", type=int, metavar="BATCH_ID")
    undo.set_defaults(func=_cmd_undo)

    disconnect = sub.add_parser("disconnect", parents=[common, who],
                                help="remove links (nothing is deleted in either system)")
    disconnect.add_argument("--kind", choices=KINDS, default="company")
    disconnect.add_argument("crm_ids", nargs="+", metavar="CRM_ID")
    disconnect.set_defaults(func=_cmd_disconnect)

    report = sub.add_parser("report", parents=[common], help="write the link reports")
    report.add_argument("--format", required=True, choices=("csv", "xlsx", "parquet"))
    report.add_argument("--out", required=True, metavar="PATH",
                        help="a folder (csv, parquet) or a .xlsx file")
    report.add_argument("--delimiter", type=_delimiter, metavar="';'|','|tab|'|'",
                        help="CSV only. Default: ';' where most companies are in a Nordic, "
                             "Dutch or German-speaking country (as Excel there expects), "
                             "else ','")
    report.set_defaults(func=_cmd_report)

    mapping = sub.add_parser("mapping", parents=[common, who],
                             help="export or import the field mappings as TOML")
    mapping.add_argument("action", choices=("export", "import"))
    mapping.add_argument("file", metavar="FILE")
    mapping.set_defaults(func=_cmd_mapping)

    role = sub.add_parser("role", parents=[common, who],
                          help="give a user a role: viewer, steward or admin")
    role.add_argument("name", metavar="NAME")
    role.add_argument("role", choices=("viewer", "steward", "admin"), metavar="ROLE")
    role.set_defaults(func=_cmd_role)

    connect = sub.add_parser("connect", parents=[common],
                             help="define, list, test or set up connections to live systems")
    connect.add_argument("action", choices=("add", "list", "test", "setup", "links"),
                         help="setup: create in a fresh Tryton the categories, relation "
                              "types and company erpdata needs (admins; idempotent); links: "
                              "adopt the links the CRM of NAME already holds")
    connect.add_argument("name", nargs="?", metavar="NAME")
    connect.add_argument("--type", choices=("files", "tryton", "superoffice"))
    connect.add_argument("--url", help="server URL, or the folder of a files connection")
    connect.add_argument("--database", help="Tryton: the database name")
    connect.add_argument("--user", dest="username", help="the user name in that system "
                         "(its secret is read from $ERPDATA_SECRET_<NAME>)")
    connect.add_argument("--side", choices=SIDES,
                         help="files: the side the folder stands for (default erp)")
    connect.add_argument("--option", action="append", metavar="KEY=VALUE",
                         help="connector option (superoffice: erp_connection_id=..., "
                              "auth=ticket, client_id=... to renew tokens, language, "
                              "timezone, token_url, redirect_uri, trusted_domains; "
                              "tryton: the names this Tryton uses, "
                              "customer_category=Kunde, supplier_category=Leverandør, "
                              "employee_relation=\"Ansatt hos\", employer_relation=...; "
                              "defaults Customer, Supplier, Employee of, Employer of)")
    connect.add_argument("--no-verify-tls", action="store_true",
                         help="do not verify the server's TLS certificate (not advised)")
    connect.set_defaults(func=_cmd_connect)

    sync = sub.add_parser("sync", parents=[common, who],
                          help="run the queued actions through the connections, then pull "
                               "what changed")
    sync.add_argument("--batch", type=int, metavar="ID", help="one batch (default: all)")
    sync.add_argument("--erp", metavar="NAME", help="the ERP connection, when there are several")
    sync.add_argument("--crm", metavar="NAME", help="the CRM connection, when there are several")
    sync.add_argument("--retry-failed", action="store_true",
                      help="send the failed actions again (after mending what made them fail)")
    sync.set_defaults(func=_cmd_sync)

    check = sub.add_parser("check", parents=[common],
                           help="verify every invariant on the workspace (exit 1 if one fails)")
    check.add_argument("--json", action="store_true", help="print the violations as JSON")
    check.set_defaults(func=_cmd_check)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed so docs and tests can inspect every option)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", default=argparse.SUPPRESS, metavar="PATH",
                        help="workspace file (default: $ERPDATA_WORKSPACE or ./workspace.duckdb)")
    parser = argparse.ArgumentParser(prog="erpdata", parents=[common],
                                     description="Connect CRM records to ERP records in bulk.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", parents=[common], help="build the demo workspace")
    demo.add_argument("--size", type=int, default=2000, help="CRM companies (default 2000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument("--export-dir", help="where the demo export files go "
                      "(default: <workspace>.demo/ beside the workspace)")
    demo.set_defaults(func=_cmd_demo)

    load = sub.add_parser("load", parents=[common], help="load an export file")
    load.add_argument("--side", required=True, choices=SIDES)
    load.add_argument("--kind", required=True, choices=KINDS)
    load.add_argument("file", metavar="FILE", nargs="?",
                      help="CSV, XLSX, Parquet, JSON or NDJSON file")
    load.add_argument("--from", dest="source", metavar="NAME",
                      help="pull from the live system of connection NAME instead of a file")
    load.add_argument("--changed", action="store_true",
                      help="with --from: only the records changed since the last pull")
    load.add_argument("--mapping", metavar="FILE",
                      help="TOML or JSON mapping: field = \"Source header\" under [columns]")
    load.add_argument("--actor-type", choices=ACTOR_TYPES["company"],
                      help="ERP companies: the actor type of rows without a type column")
    load.add_argument("--partial", action="store_true",
                      help="the file holds only some records: add and update them, flag "
                           "nothing missing")
    load.add_argument("--lenient", action="store_true",
                      help="leave cells that do not parse (a date like 19450493) empty and "
                           "list them, instead of refusing the file (keys still refuse)")
    load.add_argument("--user", help="who loads (default: $ERPDATA_USER or the login name)")
    load.add_argument("--json", action="store_true", help="print the load result as JSON")
    load.set_defaults(func=_cmd_load)

    match = sub.add_parser("match", parents=[common],
                           help="suggest ERP records for the workspace's CRM records")
    match.add_argument("--kind", choices=KINDS, help="one kind (default: company, person, "
                       "project in that order: persons use their companies' links)")
    match.add_argument("--user", help="who runs it (default: $ERPDATA_USER or the login name)")
    match.add_argument("--refit", action="store_true",
                       help="learn the model and its thresholds anew from all records and "
                            "decisions (default: score with the ones the last learning run "
                            "kept, re-scoring only what changed)")
    match.set_defaults(func=_cmd_match)

    files = sub.add_parser("match-files", parents=[common],
                           help="match two files and write the candidates as CSV")
    files.add_argument("crm_file", metavar="CRM_FILE")
    files.add_argument("erp_file", metavar="ERP_FILE")
    files.add_argument("--out", required=True, metavar="OUT.csv",
                       help="crm_id, erp_id, probability, rank, band, match, explanation")
    files.add_argument("--compare", action="append", metavar="CRM_COL=ERP_COL[:TYPE]",
                       help="a column pair to compare (repeat; LAT+LNG=LAT+LNG for a location); "
                            "default: shared column names")
    files.add_argument("--many-to-many", action="store_true",
                       help="link every pair above the threshold, not one per record")
    files.set_defaults(func=_cmd_match_files)

    status = sub.add_parser("status", parents=[common], help="record counts per side and kind")
    status.add_argument("--json", action="store_true",
                        help='JSON: {"crm": {"company": n, ...}, "erp": {...}, ...}')
    status.set_defaults(func=_cmd_status)

    search = sub.add_parser("search", parents=[common],
                            help="find records by name, ranked as on the Connect page")
    search.add_argument("text", metavar="TEXT", nargs="*",
                        help="a name, id or org number, quoted or not (none: every record, "
                             "by name)")
    search.add_argument("--side", choices=SIDES, default="erp", help="default: erp")
    search.add_argument("--kind", choices=KINDS, default="company", help="default: company")
    search.add_argument("--page", type=int, default=1, help="page number (default 1)")
    search.add_argument("--size", type=int, default=20, help="hits per page (default 20)")
    search.add_argument("--json", action="store_true",
                        help="print the hits as a JSON list of objects")
    search.set_defaults(func=_cmd_search)
    _add_stewardship(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 a data or workspace error, 2 usage)."""
    args = build_parser().parse_args(argv)
    if not hasattr(args, "workspace"):
        args.workspace = None
    try:
        return int(args.func(args))
    except ErpdataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the step that was running changed nothing it had not finished (a "
              "match keeps the stages it finished; run it again to resume after them)",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
