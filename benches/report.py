#!/usr/bin/env python3
"""Turn criterion's results into the ratio tables of BENCHMARKS.md.

Reads every `<target>/criterion/<group>/<impl>/<executor>/new/` directory
(`benchmark.json` for the id, `estimates.json` for the **median** point
estimate) and prints Markdown:

* one table per group: a row per executor, the median time of each
  implementation, and the ratio rallypoint / peer for every peer (from the
  same run: criterion's `new/` is the latest run of each benchmark);
* the executor-comparison table: per group and implementation, the median
  under each executor;
* the list of rows where rallypoint is slower than a peer by more than the
  threshold (10% by default).

Usage:
    cargo bench -p rallypoint-benches # or: cargo bench -p rallypoint-benches --bench event ...
    python3 benches/report.py         # Markdown on stdout
    python3 benches/report.py --svg ratios.svg   # also a bar chart of ratios

The target directory is `$CARGO_TARGET_DIR`, else `./target`; `--dir`
overrides it. `--groups event_,barrier_` keeps groups with those prefixes.
Standard library only.
"""

import argparse
import datetime
import json
import os
import re
import sys

OURS = "rallypoint"
EXEC_ORDER = ["tokio-mt", "tokio-ct", "smol", "smol-mt2", "threads"]
# Known groups in report order; others follow, by prefix, then by name.
KNOWN_GROUPS = [
    "event_pingpong", "event_pingpong_threads", "event_broadcast8",
    "barrier_2", "barrier_4", "barrier_8",
    "barrier_threads_2", "barrier_threads_4", "barrier_threads_8",
    "sem_uncontended", "sem_uncontended_threads",
    "sem_contended_8x2", "sem_contended_8x2_threads", "sem_acquire_many",
]
GROUP_PREFIXES = ["event_", "barrier_", "sem_", "condvar_", "queue_", "stack_"]


def natural_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def group_key(g):
    if g in KNOWN_GROUPS:
        return (0, KNOWN_GROUPS.index(g), [])
    for i, prefix in enumerate(GROUP_PREFIXES):
        if g.startswith(prefix):
            return (1, i, natural_key(g))
    return (2, 0, natural_key(g))


def exec_key(e):
    return (EXEC_ORDER.index(e) if e in EXEC_ORDER else len(EXEC_ORDER), e)


def fmt_time(ns):
    if ns < 1e3:
        return f"{ns:.1f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.2f} s"


def load(criterion_dir):
    """{group: {impl: {exec: (median_ns, mtime)}}}"""
    results = {}
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new" or "estimates.json" not in files:
            continue
        try:
            with open(os.path.join(root, "benchmark.json")) as f:
                bench = json.load(f)
            with open(os.path.join(root, "estimates.json")) as f:
                est = json.load(f)
        except (OSError, ValueError):
            continue
        group, impl_, executor = bench["group_id"], bench.get("function_id"), bench.get("value_str")
        if impl_ is None or executor is None:
            continue  # not a group/impl/executor id
        mtime = os.path.getmtime(os.path.join(root, "estimates.json"))
        median = est["median"]["point_estimate"]
        results.setdefault(group, {}).setdefault(impl_, {})[executor] = (median, mtime)
    return results


def impls_of(by_impl):
    peers = sorted((i for i in by_impl if i != OURS), key=natural_key)
    return ([OURS] if OURS in by_impl else []) + peers


def ratio_cell(r, threshold):
    s = f"{r:.2f}"
    return f"**{s}**" if r > 1 + threshold else s


def group_table(group, by_impl, threshold, slower):
    impls = impls_of(by_impl)
    peers = [i for i in impls if not i.startswith(OURS)]
    execs = sorted({e for i in impls for e in by_impl[i]}, key=exec_key)
    head = ["executor"] + impls
    if OURS in by_impl:
        head += [f"{OURS} ÷ {p}" for p in peers]
    lines = [f"### `{group}`", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for e in execs:
        row = [e]
        for i in impls:
            v = by_impl[i].get(e)
            row.append(fmt_time(v[0]) if v else "—")
        if OURS in by_impl:
            ours = by_impl[OURS].get(e)
            for p in peers:
                theirs = by_impl[p].get(e)
                if ours and theirs:
                    r = ours[0] / theirs[0]
                    row.append(ratio_cell(r, threshold))
                    if r > 1 + threshold:
                        slower.append((group, e, p, r, ours[0], theirs[0]))
                else:
                    row.append("—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def executor_table(results, groups):
    # Thread-only groups have nothing to compare across executors.
    groups = [g for g in groups
              if any(e != "threads" for i in results[g].values() for e in i)]
    execs = sorted({e for g in groups for i in results[g] for e in results[g][i]},
                   key=exec_key)
    head = ["group", "impl"] + execs
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        for i in impls_of(results[g]):
            row = [f"`{g}`", f"**{i}**" if i == OURS else i]
            for e in execs:
                v = results[g][i].get(e)
                row.append(fmt_time(v[0]) if v else "—")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def svg_chart(slower_all, path):
    """Horizontal bars of log2(rallypoint ÷ peer) per (group, executor, peer)."""
    import math

    rows = slower_all
    bar_h, left, width = 16, 330, 420
    height = 40 + bar_h * len(rows)
    mid = left + width / 2
    scale = width / 2 / 2.0  # ±2 in log2 units (4x) spans half the width
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" '
           f'height="{height}" font-family="monospace" font-size="11">',
           f'<text x="{left}" y="14">rallypoint ÷ peer (median, log scale; '
           f'left of the line: rallypoint faster)</text>',
           f'<line x1="{mid}" y1="20" x2="{mid}" y2="{height}" stroke="black"/>']
    for k, (label, r) in enumerate(rows):
        y = 24 + k * bar_h
        x = max(-2.0, min(2.0, math.log2(r))) * scale
        color = "#c0392b" if r > 1.10 else ("#27ae60" if r < 1 else "#7f8c8d")
        x0, w = (mid + x, -x) if x < 0 else (mid, x)
        out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(w, 1):.1f}" '
                   f'height="{bar_h - 3}" fill="{color}"/>')
        out.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">{label}</text>')
        out.append(f'<text x="{left + width + 4}" y="{y + 11}">{r:.2f}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", help="criterion directory (default: <target>/criterion)")
    ap.add_argument("--groups", default="", help="comma-separated group prefixes to keep")
    ap.add_argument("--threshold", type=float, default=0.10,
                    help="flag rows where rallypoint is slower by more than this (0.10)")
    ap.add_argument("--svg", help="also write a bar chart of every ratio to this file")
    args = ap.parse_args()

    target = os.environ.get("CARGO_TARGET_DIR", "target")
    criterion_dir = args.dir or os.path.join(target, "criterion")
    results = load(criterion_dir)
    prefixes = [p for p in args.groups.split(",") if p]
    groups = sorted((g for g in results if not prefixes or any(g.startswith(p) for p in prefixes)),
                    key=group_key)
    if not groups:
        sys.exit(f"no group/impl/executor results under {criterion_dir}: run `cargo bench -p rallypoint-benches` first")

    mtimes = [v[1] for g in groups for i in results[g].values() for v in i.values()]
    span = lambda t: datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")
    print(f"<!-- generated by benches/report.py from {criterion_dir}; "
          f"results from {span(min(mtimes))} to {span(max(mtimes))} -->")
    print()
    print("## Ratio tables (median time per iteration; ratio = rallypoint ÷ peer, "
          f"> 1 means rallypoint is slower; **bold**: slower by more than "
          f"{args.threshold:.0%})")
    slower = []
    for g in groups:
        print()
        print(group_table(g, results[g], args.threshold, slower))
    print()
    print("## Executor comparison (median time per iteration)")
    print()
    print(executor_table(results, groups))
    print()
    print(f"## Rows where rallypoint is slower than a peer by more than {args.threshold:.0%}")
    print()
    if not slower:
        print("None.")
    for g, e, p, r, ours, theirs in slower:
        print(f"- `{g}` / {e}: {r:.2f}× {p} ({fmt_time(ours)} vs {fmt_time(theirs)})")

    if args.svg:
        rows = []
        for g in groups:
            by_impl = results[g]
            if OURS not in by_impl:
                continue
            for e in sorted(by_impl[OURS], key=exec_key):
                for p in impls_of(by_impl)[1:]:
                    if e in by_impl[p]:
                        rows.append((f"{g} {e} vs {p}", by_impl[OURS][e][0] / by_impl[p][e][0]))
        svg_chart(rows, args.svg)
        print(f"\n<!-- chart written to {args.svg} -->")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.exit(0)
