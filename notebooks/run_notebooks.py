#!/usr/bin/env python3
"""Run every notebook under notebooks/ headless against one experiment folder.

    python3 notebooks/run_notebooks.py --results results/reference
    python3 notebooks/run_notebooks.py --results DIR --figures /tmp/figs --executed /tmp/executed

Each notebook runs top to bottom in a fresh `python3` kernel (nbclient), with the working directory
notebooks/, the folder given by --results passed as the environment variable ABLATE_RESULTS, and matplotlib's
non-interactive Agg backend. The committed notebooks are read, never written: executed copies go only where
--executed says. The notebooks must be committed without outputs; one that has outputs or execution counts
fails the run unless --allow-outputs. Exits 1 naming the notebook and cell of the first error of each failing
notebook, 2 on bad arguments. Install what it needs with `python3 -m pip install -r notebooks/requirements.txt`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Execute notebooks/*.ipynb headless against an experiment folder.",
    )
    p.add_argument(
        "--results",
        metavar="DIR",
        help="experiment folder written by `ablate run` (passed to the notebooks as ABLATE_RESULTS); "
        "default: the notebooks' own choice (results/reference/, else results/quick/)",
    )
    p.add_argument(
        "--timeout",
        type=int,
        default=600,
        metavar="S",
        help="seconds one cell may run (default 600)",
    )
    p.add_argument(
        "--figures",
        metavar="DIR",
        help="also save every figure as PNG in DIR (passed as ABLATE_FIGURES)",
    )
    p.add_argument(
        "--executed",
        metavar="DIR",
        help="write the executed notebooks (with outputs) to DIR; never into notebooks/",
    )
    p.add_argument(
        "--allow-outputs",
        action="store_true",
        help="do not fail on committed notebooks that hold outputs or execution counts",
    )
    p.add_argument(
        "notebooks",
        nargs="*",
        metavar="NOTEBOOK",
        help="notebooks to run (default: every notebooks/*.ipynb)",
    )
    return p.parse_args(argv)


def stored_outputs(nb) -> list[int]:
    """Indices of the code cells that hold outputs or an execution count."""
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]


def failing_cell(nb) -> tuple[int, object] | None:
    """The first code cell with an error output, as (index, cell)."""
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", [])):
            return i, c
    return None


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as e:
        print(
            f"run_notebooks.py: {e}; install the notebook requirements with\n"
            "    python3 -m pip install -r notebooks/requirements.txt",
            file=sys.stderr,
        )
        return 2

    if args.results is not None:
        results = Path(args.results).expanduser().resolve()
        if not (results / "runs").is_dir():
            print(
                f"run_notebooks.py: --results {args.results}: {results} is not an experiment folder (no runs/)",
                file=sys.stderr,
            )
            return 2
        os.environ["ABLATE_RESULTS"] = str(results)
    if args.figures:
        figures = Path(args.figures).expanduser().resolve()
        figures.mkdir(parents=True, exist_ok=True)
        os.environ["ABLATE_FIGURES"] = str(figures)
    executed = None
    if args.executed:
        executed = Path(args.executed).expanduser().resolve()
        if executed == HERE:
            print("run_notebooks.py: --executed must not be notebooks/ itself", file=sys.stderr)
            return 2
        executed.mkdir(parents=True, exist_ok=True)
    # Headless: figures render with Agg (the kernel inherits this environment).
    os.environ["MPLBACKEND"] = "Agg"

    paths = [Path(p).resolve() for p in args.notebooks] or sorted(HERE.glob("*.ipynb"))
    if not paths:
        print(f"run_notebooks.py: no notebooks under {HERE}", file=sys.stderr)
        return 2
    print(f"results: {os.environ.get('ABLATE_RESULTS', '(the notebooks default)')}", flush=True)

    failures: list[str] = []
    failed: set[str] = set()
    total = time.monotonic()
    for path in paths:
        name = path.name
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as e:  # unreadable or invalid JSON
            failures.append(f"{name}: cannot read: {e}")
            failed.add(name)
            print(f"FAIL {name}: cannot read: {e}", flush=True)
            continue
        dirty = stored_outputs(nb)
        if dirty and not args.allow_outputs:
            msg = (
                f"{name}: committed with outputs or execution counts in cells {dirty}; clear them "
                "(Jupyter: Edit > Clear Outputs of All Cells, then save) before committing"
            )
            failures.append(msg)
            failed.add(name)
            print(f"FAIL {msg}", flush=True)
        started = time.monotonic()
        client = NotebookClient(
            nb,
            timeout=args.timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        running: list[int] = []  # index of the cell being run, for errors that leave no error output
        client.on_cell_start = lambda cell, cell_index, **_: running.append(cell_index)
        error = None
        try:
            client.execute()
        except Exception as e:  # a cell's error (CellExecutionError), a timeout, a dead or unstartable kernel
            error = e
        elapsed = time.monotonic() - started
        if executed is not None:
            nbformat.write(nb, executed / name)
        if error is None:
            state = "ok  " if name not in failed else "ran "  # ran, but was committed with outputs
            print(f"{state} {name} ({len(nb.cells)} cells, {elapsed:.1f} s)", flush=True)
            continue
        where = failing_cell(nb)
        if where is None and running:
            where = running[-1], nb.cells[running[-1]]
        if where is not None:
            index, cell = where
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            head = f"{name}: cell {index} (`{first[:80]}`) failed ({type(error).__name__})"
        else:
            head = f"{name}: {type(error).__name__}"
        detail = strip_ansi(str(error)).strip()
        failures.append(f"{head}\n{detail}")
        failed.add(name)
        print(f"FAIL {head} after {elapsed:.1f} s\n{detail}\n", flush=True)

    print(
        f"{len(paths) - len(failed)} of {len(paths)} notebooks ran cleanly in {time.monotonic() - total:.1f} s",
        flush=True,
    )
    if failures:
        print("\nFailed:", file=sys.stderr)
        for f in failures:
            print(f"  - {f.splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
