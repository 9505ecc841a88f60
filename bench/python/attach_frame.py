#!/usr/bin/python3
"""Getting a large mixed-dtype frame into a pandas DataFrame in this Python process, three ways:

- shmframe: the frame was made by a Node process in a named heap; this process (heap already open)
  looks it up by key and calls to_pandas(): every column is a view of the heap (zero-copy);
- pickle: the same DataFrame pickled by another process (a forked child) and sent through a pipe
  (multiprocessing.Pipe, the way a Pool returns results), unpickled here;
- seed: seed 000's recipe: the data in a SharedMemory block as a structured array (made by the
  child), attached here by name with np.ndarray(buffer=...) and wrapped in pd.DataFrame(...,
  copy=False), which copies every field into its own column.

Each is timed from "the other process has the data ready" to "this process has the DataFrame".
The frame: 8 float64 columns, 2 int32 columns, 1 bool and 1 datetime64[ns] (81 bytes per row).

usage: attach_frame.py --heap NAME --key KEY --rows N [--repeats R] [--method shmframe|pickle|seed ...]
Prints one JSON object (see bench/README.md).
"""
import argparse
import json
import multiprocessing as mp
import sys
import time
from multiprocessing import resource_tracker, shared_memory

import numpy as np
import pandas as pd

import shmframe

COLUMNS = [(f"f{i}", "<f8") for i in range(8)] + [("i0", "<i4"), ("i1", "<i4"), ("flag", "|b1"), ("when", "<M8[ns]")]


def make_frame(rows):
    """The same values Node writes (bench/cases/python-attach.js)."""
    data = {}
    idx = np.arange(rows)
    for name, dt in COLUMNS:
        if dt == "<f8":
            data[name] = idx * 0.5 + int(name[1:])
        elif dt == "<i4":
            data[name] = (idx % 1000).astype("<i4")
        elif dt == "|b1":
            data[name] = idx % 2 == 0
        else:
            data[name] = (idx * 1000).astype("<M8[ns]")
    return pd.DataFrame(data, copy=False)


def check(df, rows):
    assert df.shape == (rows, len(COLUMNS)), df.shape
    assert df["f3"].iloc[-1] == (rows - 1) * 0.5 + 3
    assert int(df["i1"].iloc[rows // 2]) == (rows // 2) % 1000


def sender(conn, rows, repeats):
    """Child: for every repeat, sends the DataFrame through the pipe, stamped with the time it
    started (time.perf_counter is CLOCK_MONOTONIC: the same clock in both processes)."""
    df = make_frame(rows)
    for _ in range(repeats):
        conn.recv()  # ready
        conn.send(time.perf_counter())
        conn.send(df)
    conn.close()


def seed_producer(conn, rows, repeats):
    """Child: seed 000's structured array in a SharedMemory block, its name sent to the parent."""
    dtype = np.dtype(COLUMNS)
    df = make_frame(rows)
    for _ in range(repeats):
        conn.recv()
        shm = shared_memory.SharedMemory(create=True, size=dtype.itemsize * rows)
        arr = np.ndarray((rows,), dtype=dtype, buffer=shm.buf)
        for name, _ in COLUMNS:
            arr[name] = df[name].to_numpy()
        del arr
        conn.send((time.perf_counter(), shm.name, rows, COLUMNS))
        conn.recv()  # the parent is done with it
        shm.close()
        shm.unlink()
    conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--heap", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--method", action="append", default=None)
    a = p.parse_args()
    methods = a.method or ["shmframe", "pickle", "seed"]
    out = {"script": "attach_frame", "rows": a.rows, "bytes": a.rows * np.dtype(COLUMNS).itemsize, "ms": {}}

    if "shmframe" in methods:
        t = time.perf_counter()
        heap = shmframe.Heap.open(a.heap)
        out["open_ms"] = (time.perf_counter() - t) * 1000
        samples = []
        for _ in range(a.repeats + 1):
            t0 = time.perf_counter()
            frame = heap.lookup(a.key)
            df = frame.to_pandas()
            t1 = time.perf_counter()
            check(df, a.rows)
            assert np.shares_memory(df["f0"].to_numpy(), frame.col("f0")), "a view"
            samples.append((t1 - t0) * 1000)
            del df
            frame.close()
        out["ms"]["shmframe"] = samples[1:]  # the first includes importing pandas internals

    ctx = mp.get_context("fork")
    if "pickle" in methods:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=sender, args=(child, a.rows, a.repeats))
        proc.start()
        samples = []
        for _ in range(a.repeats):
            parent.send("ready")
            t0 = parent.recv()
            df = parent.recv()
            t1 = time.perf_counter()
            check(df, a.rows)
            samples.append((t1 - t0) * 1000)
            del df
        proc.join()
        out["ms"]["pickle"] = samples

    if "seed" in methods:
        resource_tracker.ensure_running()
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=seed_producer, args=(child, a.rows, a.repeats))
        proc.start()
        samples = []
        for _ in range(a.repeats):
            parent.send("ready")
            t0, name, rows, columns = parent.recv()
            shm = shared_memory.SharedMemory(name=name)
            arr = np.ndarray((rows,), dtype=np.dtype(columns), buffer=shm.buf)
            df = pd.DataFrame(arr, columns=[c for c, _ in columns], copy=False)
            t1 = time.perf_counter()
            check(df, a.rows)
            out["seed_shares_memory"] = bool(np.shares_memory(df["f0"].to_numpy(), arr))
            samples.append((t1 - t0) * 1000)
            del df, arr
            shm.close()
            resource_tracker.unregister(shm._name, "shared_memory")  # the child unlinks it
            parent.send("done")
        proc.join()
        out["ms"]["seed"] = samples

    out["versions"] = {"python": sys.version.split()[0], "numpy": np.__version__, "pandas": pd.__version__}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
