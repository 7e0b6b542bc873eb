"""Every trained model and honest baselines on one yardstick: `python -m aecompare.evaluate --help`.

    python -m aecompare.evaluate                      # the stored table (instant), models/
    python -m aecompare.evaluate --write              # compute every stored result anew and write it
    python -m aecompare.evaluate --recompute          # compute the table anew and print it (writes nothing)
    python -m aecompare.evaluate --format csv > table.csv
    python -m aecompare.evaluate --per-model          # one row per model: mean ± std over its seeds

The figures come from `aecompare.evaluation.analysis` (what each column means is said there) and are stored
by `aecompare.evaluation.results`; the dashboard's Losses tab shows the same table. Stored results that no
longer match the models or the data are never printed: the table is then computed afresh, with a
note saying why.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .data import DataError, Dataset, MnistError, arrays_sha256, load_dataset, load_test_set
from .evaluation import results
from .evaluation.columns import TABLE_COLUMNS, typed_cell
from .formats import format_cell, format_table, records, render
from .maths import metrics
from .store.artifacts import default_models_dir
from .store.catalog import Catalog, hashed_entries, load_catalog

if TYPE_CHECKING:  # pandas and the analysis are imported only where a table is computed (most of a second)
    import pandas as pd

    from .evaluation.analysis import Results


def summary_text(summary: pd.DataFrame) -> str:
    """`seed_summary` as plain text: per model its seeds and each metric as mean ± std (mean alone
    for a single seed)."""
    rows = []
    for r in records(summary):
        row = {"name": r["name"], "seeds": r["n_seeds"]}
        for k in (*metrics.METRICS, "probe_accuracy"):
            std = r.get(f"{k}_std")
            row[k] = format_cell(r.get(k)) + ("" if std is None else f" ± {std:.2g}")  # as the dashboard
        rows.append(row)
    return format_table(rows)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aecompare.evaluate", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, default=None, help="models folder (default: $AECOMPARE_MODELS or models/)")
    p.add_argument("--data", help="MNIST file or folder (mnist.npz, or the four IDX .gz files)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--per-model", action="store_true",
                   help="one row per model: the mean over its seeds and their standard deviation (ddof=1)")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true",
                        help="compute every stored result and write it to the models folder")
    action.add_argument("--recompute", action="store_true", help="compute the table afresh instead of reading it")
    args = p.parse_args(argv)
    args.models = args.models or default_models_dir()
    return args


def write_results(catalog: Catalog, datasets: dict[str, Dataset]) -> Results:
    """`analyse` every run of `catalog` over its dataset (`datasets`: name -> Dataset) and store the results
    next to the models, with the fingerprint of what they were computed from (what `--write` and the end of
    training do)."""
    from .evaluation.analysis import analyse_datasets

    computed = analyse_datasets(catalog, datasets)
    fp = results.fingerprint(catalog, {n: arrays_sha256(d.test_x, d.test_y) for n, d in datasets.items()},
                             {n: arrays_sha256(d.train_x, d.train_y) for n, d in datasets.items()})
    folder = results.write(catalog.models_dir, computed, fp)
    print(f"wrote {results.relative(folder, catalog.models_dir)}", file=sys.stderr)
    return computed


def needed_datasets(catalog: Catalog, data_path, have: dict[str, Dataset] | None = None) -> dict[str, Dataset]:
    """Every dataset a run of `catalog` trains on, and MNIST (its baselines), loaded in full (training images:
    the PCA baselines and the probes) unless in `have`; `data_path` is used when only one is needed."""
    names = sorted({r.exp.dataset for r in catalog.runs} | {"mnist"})
    have = have or {}
    return {n: have[n] if n in have else load_dataset(n, data_path if len(names) == 1 else None, download=False)
            for n in names}


def compute(catalog: Catalog, data_path, write: bool) -> Results:
    """Every stored figure, computed afresh; also stored if `write`."""
    from .evaluation.analysis import analyse_datasets

    datasets = needed_datasets(catalog, data_path)
    return write_results(catalog, datasets) if write else analyse_datasets(catalog, datasets)


def stored_or_computed(catalog: Catalog, data_path) -> Results:
    """The stored results if they are fresh for `catalog`; otherwise computed afresh (and said so)."""
    from .evaluation.analysis import Results

    try:
        stored = results.read(catalog.models_dir)
    except results.ResultsError as e:
        stored, why = None, str(e)
    else:
        why = "no stored results" if stored is None else ""
    if stored is not None:
        tests = {n: load_test_set(n).sha256 for n in sorted({r.exp.dataset for r in catalog.runs} | {"mnist"})}
        reasons = stored.stale_reasons(results.fingerprint(catalog, tests))
        if not reasons:
            shown = {r.name for r in catalog.runs}
            table = stored.results.table
            keep = (table["kind"] != "model") | table["name"].isin(shown)
            return Results(table[keep].reset_index(drop=True), stored.results.per_class, stored.results.outputs,
                           stored.results.arrays)
        why = f"{results.relative(stored.path, catalog.models_dir)} is stale: " + "; ".join(reasons)
    print(f"note: {why}; computing the table afresh (store it with {results.REBUILD})", file=sys.stderr)
    return compute(catalog, data_path, write=False)


def fresh_fingerprint(models_dir: Path) -> dict | None:
    """The fingerprint results of the runs listed would have (their files hashed, not loaded); None if anything
    is wrong in the folder or the test images cannot be had."""
    entries = hashed_entries(models_dir)
    if entries is None:
        return None
    used = {e["experiment"].get("dataset", "mnist") for e in entries} | {"mnist"}
    try:
        tests = {n: load_test_set(n).sha256 for n in used}
    except DataError:
        return None
    return results.fingerprint(entries, tests)


def fresh_stored(models_dir: Path) -> Results | None:
    """The stored results, if they are fresh for every run listed: printing them then needs neither the runs
    nor the datasets."""
    current = fresh_fingerprint(models_dir)
    try:
        stored = results.read(models_dir) if current is not None else None
    except results.ResultsError:
        return None
    return None if stored is None or stored.stale_reasons(current) else stored.results


def stored_table_text(models_dir: Path, fmt: str) -> str | None:
    """The stored evaluation table as `printed` prints it ("table" or "csv"), read without pandas or the
    analysis (their imports are most of a second); None unless the stored results are fresh."""
    current = fresh_fingerprint(models_dir)
    try:
        stored = results.read_file(models_dir, "evaluation.csv") if current is not None else None
    except results.ResultsError:
        return None
    if stored is None or results.stale_reasons(stored[1], current):
        return None
    text = stored[0].decode()
    if fmt == "csv":
        return text
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = [c for c in TABLE_COLUMNS if rows and c in rows[0]]
    return format_table([{c: format_cell(typed_cell(c, r[c])) for c in columns} for r in rows])


def printed(computed: Results, args) -> str:
    """The table, or with --per-model the seed summary, in the format asked for."""
    if not args.per_model:
        return render(computed.table, args.format, TABLE_COLUMNS)
    from .evaluation.analysis import seed_summary

    summary = seed_summary(computed.table)
    return summary_text(summary) if args.format == "table" else render(summary, args.format)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (args.write or args.recompute or args.per_model) and args.format != "json":
        text = stored_table_text(args.models, args.format)
        if text is not None:
            print(text)
            return 0
    quick = None if args.write or args.recompute else fresh_stored(args.models)
    if quick is not None:
        print(printed(quick, args))
        return 0
    catalog = load_catalog(args.models)
    try:
        computed = (compute(catalog, args.data, args.write) if args.write or args.recompute
                    else stored_or_computed(catalog, args.data))
    except MnistError as e:
        print(e, file=sys.stderr)
        return 2
    except (results.ResultsError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(printed(computed, args))
    for problem in catalog.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if catalog.problems else 0


if __name__ == "__main__":
    sys.exit(main())
