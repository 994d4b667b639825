#!/usr/bin/env python3
"""Python's peer for `benches/process.rs`: a `multiprocessing.Event`
ping-pong between two processes, the same workload as the
`process_event_pingpong` rows (A sets `ping` and waits for `pong`, B waits
for `ping`, clears it and sets `pong`, A clears `pong`).

Prints one line: `multiprocessing.Event round trip: <median> us (<runs>
runs of <n> round trips)`. `python3 benches/process_event.py [N] [RUNS]`.
"""

import multiprocessing as mp
import statistics
import sys
import time


def pong(ping, pong_, rounds):
    for _ in range(rounds):
        ping.wait()
        ping.clear()
        pong_.set()


def run(rounds):
    ping, pong_ = mp.Event(), mp.Event()
    child = mp.Process(target=pong, args=(ping, pong_, rounds))
    child.start()
    # One warm-up round trip, so start-up is not measured.
    ping.set()
    pong_.wait()
    pong_.clear()
    start = time.perf_counter()
    for _ in range(rounds - 1):
        ping.set()
        pong_.wait()
        pong_.clear()
    elapsed = time.perf_counter() - start
    child.join()
    return elapsed / (rounds - 1)


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    times = [run(rounds) for _ in range(runs)]
    print(
        f"multiprocessing.Event round trip: {statistics.median(times) * 1e6:.2f} us "
        f"({runs} runs of {rounds} round trips; min {min(times) * 1e6:.2f}, "
        f"max {max(times) * 1e6:.2f})"
    )


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
