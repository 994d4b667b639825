#!/usr/bin/env python3
"""Run the `blocking` bench idle and under CPU load, and print ratio tables.

1. `cargo bench -p rallypoint-benches --bench blocking -- --save-baseline idle [REGEX]`
2. the same with `--save-baseline loaded`, while a CPU spinner
   (`python3 -c "while True: pass"`, a subprocess killed when the run ends,
   however it ends) competes for one core: on Linux it is pinned to the
   last CPU this script may run on, when there are at least two;
3. reads `<target>/criterion/<group>/<impl>/<executor>/{idle,loaded}/`
   (`benchmark.json` for the id, `estimates.json` for the **median** point
   estimate, in ns per iteration) and prints Markdown: one table per group
   (rows: implementations; columns: idle and loaded medians, and each
   row's ratio to the best non-rallypoint peer of the group, idle and
   loaded), then the rallypoint rows slower than that best peer by more
   than the threshold (10% by default).

Criterion keeps the three parts of a `group/impl/executor` id as three
directory levels (each made file-name safe), and copies `benchmark.json`
into every saved baseline, so the ids are read back from there as in
`benches/report.py`.

Usage:
    python3 benches/blocking.py                    # both runs, then the tables
    python3 benches/blocking.py --filter 'blk_queue_'   # criterion filter (regex)
    python3 benches/blocking.py --skip-run --md blocking.md   # report only
    python3 benches/blocking.py --criterion '--warm-up-time 1 --measurement-time 3'

`--filter` is passed to criterion as its filter, and also restricts the
report to the groups where some id matches (whole groups, so that the
ratios stay against every peer).

The target directory is `$CARGO_TARGET_DIR`, else `target` (a relative path
is taken from the crate root, where cargo runs). Standard library only.
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = "blocking"
BASELINES = ("idle", "loaded")
OURS = "rallypoint"
# The groups of benches/blocking.rs, in report order; any other group with
# one of GROUP_PREFIXES follows, by name.
KNOWN_GROUPS = [
    "blk_sem_4t_1permit",
    "blk_queue_mpmc2x2_bounded64",
    "blk_queue_mpmc4x4_bounded64",
    "blk_queue_spsc_bounded1",
    "blk_condition_pingpong",
    "blk_barrier_2",
    "blk_event_pingpong",
    "mix_threads_to_tasks_bounded64",
    "mix_tasks_to_threads_bounded64",
]
GROUP_PREFIXES = ("blk_", "mix_")
SPINNER = "while True: pass"


def natural_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def group_key(g):
    if g in KNOWN_GROUPS:
        return (0, KNOWN_GROUPS.index(g), [])
    return (1, 0, natural_key(g))


def is_ours(impl_):
    return impl_ == OURS or impl_.startswith(OURS + "-")


def impl_key(impl_):
    # rallypoint first, then its variants, then the peers, by name.
    return (0 if impl_ == OURS else 1 if is_ours(impl_) else 2, natural_key(impl_))


def fmt_time(ns):
    if ns is None:
        return "—"
    if ns < 1e3:
        return f"{ns:.1f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.2f} s"


def target_dir():
    target = os.environ.get("CARGO_TARGET_DIR") or "target"
    return target if os.path.isabs(target) else os.path.join(ROOT, target)


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

# Extra criterion arguments (`--criterion ARGS`), e.g. shorter runs.
CRITERION_ARGS = []


def cargo_bench(baseline, filter_):
    cmd = ["cargo", "bench", "-p", "rallypoint-benches", "--bench", BENCH, "--", "--save-baseline", baseline,
           *CRITERION_ARGS]
    if filter_:
        cmd.append(filter_)
    print(f"blocking.py: {' '.join(cmd)}", file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def spinner_cpu():
    """The CPU to pin the spinner to (the last allowed one), or None."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[-1] if len(cpus) >= 2 else None


def run_loaded(filter_):
    spinner = subprocess.Popen([sys.executable, "-c", SPINNER])
    try:
        cpu = spinner_cpu()
        if cpu is not None:
            try:
                os.sched_setaffinity(spinner.pid, {cpu})
            except OSError as e:
                print(f"blocking.py: could not pin the spinner to CPU {cpu}: {e}",
                      file=sys.stderr)
                cpu = None
        where = f"CPU {cpu}" if cpu is not None else "any CPU"
        print(f"blocking.py: CPU spinner running (pid {spinner.pid}, {where})",
              file=sys.stderr, flush=True)
        cargo_bench("loaded", filter_)
    finally:
        spinner.kill()
        spinner.wait()


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------

def load(criterion_dir):
    """{(group, executor): {impl: {baseline: (median_ns, mtime)}}}"""
    results = {}
    for root, _dirs, files in os.walk(criterion_dir):
        baseline = os.path.basename(root)
        if baseline not in BASELINES or "estimates.json" not in files:
            continue
        rel = os.path.relpath(root, criterion_dir).split(os.sep)
        try:
            with open(os.path.join(root, "estimates.json")) as f:
                median = json.load(f)["median"]["point_estimate"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        group = impl_ = executor = None
        try:
            with open(os.path.join(root, "benchmark.json")) as f:
                bench = json.load(f)
            group, impl_, executor = (bench.get("group_id"), bench.get("function_id"),
                                      bench.get("value_str"))
        except (OSError, ValueError, AttributeError):
            # No benchmark.json: fall back on the directory names.
            if len(rel) == 4:
                group, impl_, executor = rel[:3]
        if group is None or impl_ is None or executor is None:
            continue  # not a group/impl/executor id
        if not group.startswith(GROUP_PREFIXES):
            continue  # another bench's group
        mtime = os.path.getmtime(os.path.join(root, "estimates.json"))
        results.setdefault((group, executor), {}).setdefault(impl_, {})[baseline] = (
            median, mtime)
    return results


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

def best_peer(by_impl, baseline):
    """(impl, median) of the fastest non-rallypoint implementation, or None."""
    peers = [(v[baseline][0], i) for i, v in by_impl.items()
             if not is_ours(i) and baseline in v]
    if not peers:
        return None
    t, i = min(peers)
    return i, t


def ratio_cell(r, threshold):
    if r is None:
        return "—"
    s = f"{r:.2f}"
    return f"**{s}**" if r > 1 + threshold else s


def group_table(group, executor, by_impl, threshold, slower):
    best = {b: best_peer(by_impl, b) for b in BASELINES}
    lines = [f"### `{group}` ({executor})", ""]
    for b in BASELINES:
        if best[b]:
            lines.append(f"Best peer {b}: {best[b][0]} ({fmt_time(best[b][1])}).")
    if any(best.values()):
        lines.append("")
    head = ["impl", "idle", "loaded", "idle ÷ best peer", "loaded ÷ best peer"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i in sorted(by_impl, key=impl_key):
        row = [f"**{i}**" if is_ours(i) else i]
        times = {b: by_impl[i].get(b, (None,))[0] for b in BASELINES}
        row += [fmt_time(times[b]) for b in BASELINES]
        for b in BASELINES:
            r = None
            if times[b] is not None and best[b]:
                r = times[b] / best[b][1]
                if is_ours(i) and r > 1 + threshold:
                    slower.append((group, executor, i, b, r, times[b], *best[b]))
            row.append(ratio_cell(r, threshold))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def report(results, criterion_dir, threshold):
    keys = sorted(results, key=lambda k: (group_key(k[0]), k[1]))
    mtimes = [v[1] for k in keys for i in results[k].values() for v in i.values()]
    span = lambda t: datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")
    out = [f"<!-- generated by benches/blocking.py from {criterion_dir}; "
           f"results from {span(min(mtimes))} to {span(max(mtimes))} -->", "",
           "## Blocking front-ends, idle and under CPU load", "",
           "Median time per iteration; `idle`: baseline `idle`, `loaded`: baseline "
           "`loaded` (a CPU spinner competing for one core). Ratios are each row's "
           "time ÷ the best (fastest) non-rallypoint implementation of the group in "
           f"the same baseline; > 1 means slower; **bold**: slower by more than "
           f"{threshold:.0%}."]
    slower = []
    for group, executor in keys:
        out += ["", group_table(group, executor, results[(group, executor)], threshold,
                                slower)]
    out += ["", f"## rallypoint rows slower than the best peer by more than {threshold:.0%}",
            ""]
    if not slower:
        out.append("None.")
    for group, executor, i, b, r, ours, peer, theirs in slower:
        out.append(f"- `{group}/{i}/{executor}` ({b}): {r:.2f}× {peer} "
                   f"({fmt_time(ours)} vs {fmt_time(theirs)})")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-run", action="store_true",
                    help="do not run the benches; only report from existing results")
    ap.add_argument("--filter", metavar="REGEX",
                    help="criterion filter: only benchmarks whose id matches REGEX")
    ap.add_argument("--md", metavar="FILE", help="also write the Markdown report to FILE")
    ap.add_argument("--criterion", metavar="ARGS", default="",
                    help="extra criterion arguments for both runs, e.g. "
                         "'--warm-up-time 1 --measurement-time 3'")
    ap.add_argument("--threshold", type=float, default=0.10,
                    help="flag rallypoint rows slower than the best peer by more than "
                         "this (default 0.10)")
    args = ap.parse_args()
    CRITERION_ARGS.extend(args.criterion.split())

    if args.filter:
        try:
            re.compile(args.filter)
        except re.error as e:
            sys.exit(f"blocking.py: bad --filter regex: {e}")
    if not args.skip_run:
        try:
            cargo_bench("idle", args.filter)
            run_loaded(args.filter)
        except subprocess.CalledProcessError as e:
            sys.exit(f"blocking.py: `{' '.join(e.cmd)}` failed (exit status {e.returncode})")

    criterion_dir = os.path.join(target_dir(), "criterion")
    results = load(criterion_dir)
    if args.filter:
        # Keep every group with a matching id, whole: its ratios stay
        # against all its peers (rows the filter left out keep their
        # earlier results; the header gives the results' time span).
        rx = re.compile(args.filter)
        results = {k: by_impl for k, by_impl in results.items()
                   if any(rx.search(f"{k[0]}/{i}/{k[1]}") for i in by_impl)}
    if not results:
        sys.exit(f"blocking.py: no idle/loaded results of the `{BENCH}` bench under "
                 f"{criterion_dir}: run without --skip-run first")
    md = report(results, criterion_dir, args.threshold)
    sys.stdout.write(md)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
        print(f"blocking.py: report written to {args.md}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.exit(0)
