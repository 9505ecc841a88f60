#!/usr/bin/python3
"""Reference operations from Python, per second (ctypes calls included): what a per-row attach
would cost. Each is timed over N back-to-back calls in a heap a Node process made:

- retain + release: one reference taken and dropped (HeapCore.retain / release: the ledger, the
  pending-operation record and the count, as every view and close does);
- lookup + close: a published object attached (a fresh reference) and closed;
- handle + attach + close: a handle string made, attached (its ticket adopted) and closed;
- allocate + free: SharedArray.zeros(heap, 16) and close;
- numpy(): a numpy view of an attached array.

usage: refs.py --heap NAME --key KEY [--n 20000] [--repeats 5]     Prints one JSON object.
"""
import argparse
import json
import time

import shmframe


def rate(fn, n, repeats):
    fn(max(100, n // 10))  # warm-up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(n)
        out.append(n / (time.perf_counter() - t0))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--heap", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    heap = shmframe.Heap.open(a.heap)
    arr = heap.lookup(a.key)
    core, unit = heap._core, arr._ref.unit

    def retain_release(n):
        for _ in range(n):
            owner = core.retain(unit)
            core.release(unit, owner)

    def lookup_close(n):
        for _ in range(n):
            heap.lookup(a.key).close()

    def handle_attach(n):
        for _ in range(n):
            shmframe.attach(str(arr._share())).close()

    def allocate_free(n):
        for _ in range(n):
            shmframe.SharedArray.zeros(heap, 16).close()

    def view(n):
        for _ in range(n):
            arr.numpy()

    before = heap.stats()
    out = {
        "retain_release": rate(retain_release, a.n, a.repeats),
        "lookup_close": rate(lookup_close, a.n // 4, a.repeats),
        "handle_attach_close": rate(handle_attach, a.n // 4, a.repeats),
        "allocate_free": rate(allocate_free, a.n // 4, a.repeats),
        "numpy_view": rate(view, a.n, a.repeats),
    }
    arr.close()
    after = heap.stats()
    assert after["objects"] == before["objects"] and after["handles"] == before["handles"], (before, after)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
