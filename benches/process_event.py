#!/usr/bin/env python3
"""Python's peer for `benches/process.rs`: the same workloads with
`multiprocessing` between two processes —

* an `Event` ping-pong (A sets `ping` and waits for `pong`, B waits for
  `ping`, clears it and sets `pong`, A clears `pong`);
* a `Lock` acquired and released here while the child does so in a loop;
* a two-party `Barrier`, one party in each process;
* a `Semaphore` handoff (A releases `ping` and acquires `pong`, B
  acquires `ping` and releases `pong`);
* `Queue` and `JoinableQueue` throughput, one direction (A puts, B gets;
  bounded(1024); small ints and 1 KiB bytes; B tells A when it got the
  last item), 2x2 (two putters, two getters, all processes), and a
  put/get round trip through two queues, as in `process_queue_*`.

Prints one line per workload with the median time per iteration.
`python3 benches/process_event.py [N] [RUNS]`.
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


def churn(lock):
    while True:
        lock.acquire()
        lock.release()


def run_lock(rounds):
    lock = mp.Lock()
    child = mp.Process(target=churn, args=(lock,), daemon=True)
    child.start()
    time.sleep(0.05)
    start = time.perf_counter()
    for _ in range(rounds):
        lock.acquire()
        lock.release()
    elapsed = time.perf_counter() - start
    child.terminate()
    child.join()
    return elapsed / rounds


def party(barrier):
    while True:
        barrier.wait()


def run_barrier(rounds):
    barrier = mp.Barrier(2)
    child = mp.Process(target=party, args=(barrier,), daemon=True)
    child.start()
    barrier.wait()
    start = time.perf_counter()
    for _ in range(rounds):
        barrier.wait()
    elapsed = time.perf_counter() - start
    child.terminate()
    child.join()
    return elapsed / rounds


def sem_pong(ping, pong_):
    while True:
        ping.acquire()
        pong_.release()


def run_semaphore(rounds):
    ping, pong_ = mp.Semaphore(0), mp.Semaphore(0)
    child = mp.Process(target=sem_pong, args=(ping, pong_), daemon=True)
    child.start()
    ping.release()
    pong_.acquire()
    start = time.perf_counter()
    for _ in range(rounds):
        ping.release()
        pong_.acquire()
    elapsed = time.perf_counter() - start
    child.terminate()
    child.join()
    return elapsed / rounds


def q_consume(q, ack, joinable):
    while True:
        item = q.get()
        if joinable:
            q.task_done()
        if item is None:
            ack.put(0)


def run_queue_with(make, item, rounds, joinable=False):
    q, ack = make(1024), mp.Queue()
    child = mp.Process(target=q_consume, args=(q, ack, joinable), daemon=True)
    child.start()
    q.put(item)
    q.put(None)
    ack.get()
    start = time.perf_counter()
    for _ in range(rounds):
        q.put(item)
    q.put(None)
    ack.get()
    elapsed = time.perf_counter() - start
    child.terminate()
    child.join()
    return elapsed / rounds


def run_queue(rounds):
    return run_queue_with(mp.Queue, 7, rounds)


def run_queue_kib(rounds):
    return run_queue_with(mp.Queue, bytes(1024), rounds)


def run_joinable(rounds):
    return run_queue_with(mp.JoinableQueue, 7, rounds, joinable=True)


def q_produce(q, n, done, item):
    for _ in range(n):
        q.put(item)
    done.put(0)


def run_queue_2x2(rounds, item=7):
    q, ack, done = mp.Queue(1024), mp.Queue(), mp.Queue()
    getters = [
        mp.Process(target=q_consume, args=(q, ack, False), daemon=True) for _ in range(2)
    ]
    for g in getters:
        g.start()
    putters = [
        mp.Process(target=q_produce, args=(q, rounds // 2, done, item)) for _ in range(2)
    ]
    start = time.perf_counter()
    for p in putters:
        p.start()
    for _ in putters:
        done.get()
    for _ in getters:
        q.put(None)
    for _ in getters:
        ack.get()
    elapsed = time.perf_counter() - start
    for p in putters:
        p.join()
    for g in getters:
        g.terminate()
        g.join()
    return elapsed / rounds


def q_echo(ping, pong_):
    while True:
        pong_.put(ping.get())


def run_queue_roundtrip(rounds):
    ping, pong_ = mp.Queue(), mp.Queue()
    child = mp.Process(target=q_echo, args=(ping, pong_), daemon=True)
    child.start()
    ping.put(1)
    pong_.get()
    start = time.perf_counter()
    for _ in range(rounds):
        ping.put(1)
        pong_.get()
    elapsed = time.perf_counter() - start
    child.terminate()
    child.join()
    return elapsed / rounds


def report(what, unit, run, rounds, runs):
    times = [run(rounds) for _ in range(runs)]
    print(
        f"{what}: {statistics.median(times) * 1e6:.2f} us per {unit} "
        f"({runs} runs of {rounds}; min {min(times) * 1e6:.2f}, "
        f"max {max(times) * 1e6:.2f})"
    )


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    report("multiprocessing.Event round trip", "round trip", run, rounds, runs)
    report("multiprocessing.Lock contended", "acquire+release", run_lock, rounds, runs)
    report("multiprocessing.Barrier(2)", "generation", run_barrier, rounds // 4, runs)
    report("multiprocessing.Semaphore handoff", "round trip", run_semaphore, rounds, runs)
    report("multiprocessing.Queue 1->1 small", "item", run_queue, rounds * 5, runs)
    report("multiprocessing.Queue 1->1 1 KiB", "item", run_queue_kib, rounds * 5, runs)
    report("multiprocessing.JoinableQueue 1->1 small", "item", run_joinable, rounds * 5, runs)
    report("multiprocessing.Queue 2x2 small", "item", run_queue_2x2, rounds * 5, runs)
    report(
        "multiprocessing.Queue 2x2 1 KiB",
        "item",
        lambda n: run_queue_2x2(n, bytes(1024)),
        rounds * 5,
        runs,
    )
    report("multiprocessing.Queue round trip", "round trip", run_queue_roundtrip, rounds, runs)


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
