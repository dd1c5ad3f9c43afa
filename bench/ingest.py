"""Benchmark: load 1,000,000 CRM companies from CSV and from Parquet (time and peak memory).

Not a test. Run:  python bench/ingest.py [--rows 1000000] [--write docs/BENCHMARKS.md]

Each scenario runs in a fresh child process, so its peak RSS (``ru_maxrss``) is its own.
The export is a SuperOffice-style semicolon CSV with a UTF-8 BOM and Norwegian headers, 20
columns (one unmapped, kept in ``extra``). Scenarios: first load of the CSV; first load of the
same data as Parquet; a Windows-1252 copy of the CSV (streaming transcode); a re-load of the
CSV with 1% of the rows changed and 0.5% gone (updates, change log, missing flags).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import machine, write_section

ROOT = Path(__file__).resolve().parent.parent

HEADERS_SQL = """
  i::VARCHAR AS "Firma-ID",
  'Firma ' || i
    || CASE i % 4 WHEN 0 THEN ' AS' WHEN 1 THEN ' AB' WHEN 2 THEN ' B.V.' ELSE ' GmbH' END
    AS "Firmanavn",
  CASE WHEN i % 5 = 0 THEN 'Salg' END AS "Avdeling",
  (900000000 + i)::VARCHAR AS "Org.nr",
  'K' || i AS "Kode",
  (10000 + i)::VARCHAR AS "Nummer",
  '+47 ' || lpad((i % 100000000)::VARCHAR, 8, '0') AS "Telefon",
  'post@firma' || i || '.no' AS "E-post",
  'https://firma' || i || '.no' AS "Hjemmeside",
  'Storgata ' || (i % 200) AS "Besøksadresse",
  lpad((i % 9999)::VARCHAR, 4, '0') AS "Besøkspostnr",
  'Tromsø' AS "Besøkssted",
  'Postboks ' || (i % 5000) AS "Postadresse",
  lpad((i % 9999)::VARCHAR, 4, '0') AS "Postnr",
  CASE i % 3 WHEN 0 THEN 'Oslo' WHEN 1 THEN 'Bergen' ELSE 'Ålesund' END AS "Poststed",
  'Norge' AS "Land",
  CASE i % 3 WHEN 0 THEN 'Kunde' WHEN 1 THEN 'Prospekt' ELSE 'Partner' END AS "Kategori",
  'Kari Nordmann' AS "Vår kontakt",
  'Telefaks ' || i AS "Faks",
  '2024-01-01' AS "Registrert"
"""


def make_files(folder: Path, rows: int) -> dict[str, Path]:
    """Write the CSV (UTF-8 BOM), its Windows-1252 twin, the Parquet copy and a changed CSV."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE c AS SELECT {HEADERS_SQL} FROM range(1, {rows} + 1) t(i)")
    files = {"csv": folder / "crm_company.csv", "parquet": folder / "crm_company.parquet",
             "cp1252": folder / "crm_company_cp1252.csv", "changed": folder / "crm_changed.csv"}
    body = folder / "body.csv"
    con.execute(f"COPY c TO '{body}' (HEADER, DELIMITER ';')")
    with files["csv"].open("wb") as out, body.open("rb") as src:
        out.write(b"\xef\xbb\xbf")
        shutil.copyfileobj(src, out)
    body.unlink()
    con.execute(f"COPY c TO '{files['parquet']}' (FORMAT parquet)")
    with files["csv"].open("r", encoding="utf-8-sig") as src, \
            files["cp1252"].open("w", encoding="cp1252", newline="") as out:
        shutil.copyfileobj(src, out, 16 * 1024 * 1024)
    con.execute(f"""COPY (SELECT * REPLACE (CASE WHEN "Firma-ID"::INT % 100 = 7
                          THEN "Firmanavn" || ' (ny)' ELSE "Firmanavn" END AS "Firmanavn")
                        FROM c WHERE "Firma-ID"::INT % 200 <> 3)
                    TO '{files['changed']}' (HEADER, DELIMITER ';')""")
    return files


def child(scenario: str, files: dict[str, Path], workspace: Path) -> dict[str, float]:
    """Run one scenario in this process; return seconds and peak RSS in MB."""
    from erpdata.ingest.load import load_file
    from erpdata.workspace import Workspace

    file = {"csv": files["csv"], "parquet": files["parquet"], "cp1252": files["cp1252"],
            "reload": files["changed"]}[scenario]
    with Workspace.open(workspace) as ws:
        t0 = time.perf_counter()
        result = load_file(ws, file, side="crm", kind="company", user="bench")
        seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(seconds, 2), "peak_mb": round(peak), "rows": result.rows,
            "inserted": result.inserted, "updated": result.updated, "missing": result.missing,
            "size_mb": round(file.stat().st_size / 1e6)}


def run_child(scenario: str, files: dict[str, Path], workspace: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", scenario, "--workspace", str(workspace),
           "--files", json.dumps({k: str(v) for k, v in files.items()})]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--write", type=Path, help="update this Markdown file between the markers")
    ap.add_argument("--child")
    ap.add_argument("--workspace", type=Path)
    ap.add_argument("--files")
    args = ap.parse_args()
    if args.child:
        files = {k: Path(v) for k, v in json.loads(args.files).items()}
        print(json.dumps(child(args.child, files, args.workspace)))
        return
    with tempfile.TemporaryDirectory(prefix="erpdata-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        files = make_files(folder, args.rows)
        print(f"made files in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        results = {}
        for scenario in ("csv", "parquet", "cp1252"):
            ws = folder / f"{scenario}.duckdb"
            results[scenario] = run_child(scenario, files, ws)
            print(scenario, results[scenario], file=sys.stderr)
        # The re-load runs on a copy of the workspace the CSV load produced.
        shutil.copy(folder / "csv.duckdb", folder / "reload.duckdb")
        results["reload"] = run_child("reload", files, folder / "reload.duckdb")
        print("reload", results["reload"], file=sys.stderr)
    table = render(args.rows, results)
    print(table)
    if args.write:
        write_section(args.write, "ingest", table)


def render(rows: int, results: dict[str, dict[str, float]]) -> str:
    labels = {
        "csv": "CSV, UTF-8 with BOM, `;`, first load",
        "parquet": "Parquet, first load",
        "cp1252": "CSV, Windows-1252 (transcoded), first load",
        "reload": "CSV re-load: 1% changed, 0.5% gone",
    }
    lines = [
        f"{machine()} Rows: {rows:,} CRM companies, 20 columns.",
        "",
        "| scenario | file MB | seconds | rows/s | peak RSS MB | new | changed | flagged missing |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in labels.items():
        r = results[key]
        lines.append(
            f"| {label} | {r['size_mb']} | {r['seconds']} | {int(r['rows'] / r['seconds']):,} "
            f"| {r['peak_mb']:,} | {r['inserted']:,} | {r['updated']:,} | {r['missing']:,} |"
        )
    return "\n".join(lines)




if __name__ == "__main__":
    main()
