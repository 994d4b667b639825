#!/usr/bin/env python3
"""A/B comparison of two builds of the benches, interleaved, as ratios.

Usage (both trees built with `cargo bench -p rallypoint-benches --no-run` first):

    python3 benches/ab.py --before ../before --after . \
        [--benches event,barrier,semaphore,condvar,queue,stack] \
        [--filter /rallypoint] [--rounds 1] [--only ids.txt] [--md out.md] \
        [--criterion '--warm-up-time 1 --measurement-time 3']

For every benchmark id whose name contains `--filter` (default: rallypoint's
own rows), it runs the `before` build's executable and then the `after`
build's on that one id (`--exact`), alternating which goes first from one id
to the next, `--rounds` times, each build writing to its own criterion
directory. Interleaving id by id keeps slow drift of a shared machine out of
the ratios. It prints, per id, both medians and the median over rounds of
`after / before`; ratios above 1.10 are marked.

`--only FILE` restricts the run to the ids listed in FILE (one per line),
e.g. to re-measure the rows a first pass marked. `--criterion ARGS` passes
extra arguments to every criterion run (shorter warm-up and measurement
make more rounds affordable). Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

DEFAULT_BENCHES = "event,barrier,semaphore,condvar,queue,stack"


def executable(tree: Path, bench: str) -> Path:
    """The newest bench executable `bench-<hash>` under `tree`'s target dir."""
    target = Path(os.environ.get("AB_TARGET", tree / "target"))
    deps = target / "release" / "deps"
    found = [
        p for p in deps.glob(f"{bench}-*")
        if p.is_file() and os.access(p, os.X_OK) and p.suffix == ""
    ]
    if not found:
        sys.exit(f"ab.py: no built `{bench}` bench under {deps} (run `cargo bench -p rallypoint-benches --no-run`)")
    return max(found, key=lambda p: p.stat().st_mtime)


def list_ids(exe: Path) -> list:
    out = subprocess.run([str(exe), "--bench", "--list"], capture_output=True, text=True,
                         check=True).stdout
    return [line[: -len(": benchmark")] for line in out.splitlines()
            if line.endswith(": benchmark")]


def run_one(exe: Path, bench_id: str, home: Path, extra: list) -> None:
    env = dict(os.environ, CRITERION_HOME=str(home))
    subprocess.run([str(exe), "--bench", "--exact", bench_id, "--noplot",
                    "--save-baseline", "ab", *extra],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def median_ns(home: Path, bench_id: str) -> float:
    # criterion keeps the id's path components as directories.
    est = home.joinpath(*bench_id.split("/"), "ab", "estimates.json")
    with open(est) as f:
        return json.load(f)["median"]["point_estimate"]


def fmt_ns(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.1f} ns"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, type=Path)
    ap.add_argument("--after", required=True, type=Path)
    ap.add_argument("--benches", default=DEFAULT_BENCHES)
    ap.add_argument("--filter", default="/rallypoint")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", type=Path)
    ap.add_argument("--out", type=Path, default=Path("/tmp/rallypoint-ab"),
                    help="where the two criterion directories go")
    ap.add_argument("--md", type=Path, help="also write the table to this file")
    ap.add_argument("--criterion", default="", help="extra criterion arguments")
    args = ap.parse_args()

    only = None
    if args.only:
        only = {line.strip() for line in args.only.read_text().splitlines() if line.strip()}
    homes = {"before": args.out / "before", "after": args.out / "after"}
    rows = []
    flip = False
    for bench in args.benches.split(","):
        exes = {side: executable(getattr(args, side), bench) for side in homes}
        ids = [i for i in list_ids(exes["after"]) if args.filter in i]
        if only is not None:
            ids = [i for i in ids if i in only]
        for bench_id in ids:
            ratios, meds = [], {"before": [], "after": []}
            for _ in range(args.rounds):
                order = ("after", "before") if flip else ("before", "after")
                flip = not flip
                for side in order:
                    run_one(exes[side], bench_id, homes[side], args.criterion.split())
                    meds[side].append(median_ns(homes[side], bench_id))
                ratios.append(meds["after"][-1] / meds["before"][-1])
            row = (bench_id, statistics.median(meds["before"]),
                   statistics.median(meds["after"]), statistics.median(ratios))
            rows.append(row)
            mark = "  <-- slower" if row[3] > 1.10 else ""
            print(f"{bench_id}: {fmt_ns(row[1])} -> {fmt_ns(row[2])}  x{row[3]:.2f}{mark}",
                  flush=True)

    lines = ["| benchmark | before | after | after / before |", "|---|---|---|---|"]
    for bench_id, b, a, r in rows:
        ratio = f"**{r:.2f}**" if r > 1.10 else f"{r:.2f}"
        lines.append(f"| `{bench_id}` | {fmt_ns(b)} | {fmt_ns(a)} | {ratio} |")
    slower = [r for r in rows if r[3] > 1.10]
    lines.append("")
    lines.append(f"{len(rows)} rows, {args.rounds} round(s) each; "
                 f"{len(slower)} slower by more than 10%.")
    table = "\n".join(lines)
    print("\n" + table)
    if args.md:
        args.md.write_text(table + "\n")


if __name__ == "__main__":
    main()
