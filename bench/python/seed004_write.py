#!/usr/bin/python3
"""Seed 004's parent in Python, fed by Node (bench/cases/python-seed004.js): Node's readDelimited
loaded the files into frames of a named heap and published one per file. For every line of keys
read from stdin, this process takes each frame by key (lookup with remove=True: the published
reference becomes this process's), reads its columns as numpy views and writes one compound
HDF5 dataset per file with h5py (from a records array, as the seed's parent writes its structured
arrays), then closes the frame, which frees it.

usage: seed004_write.py --heap NAME --out OUT.h5    (prints "ready", then one JSON line per request)
"""
import argparse
import json
import sys
import time

import h5py
import numpy as np

import shmframe

DTYPE = [("chr", "S10"), ("pos", "<i4"), ("pct", "<f4"), ("c", "<i4"), ("t", "<i4")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--heap", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    heap = shmframe.Heap.open(a.heap)
    print("ready", flush=True)
    for line in sys.stdin:
        keys = line.split()
        if not keys:
            break
        t0 = time.perf_counter()
        rows = 0
        with h5py.File(a.out, "w") as h5:
            for key in keys:
                with heap.lookup(key, remove=True) as frame:
                    records = np.empty(frame.length, dtype=DTYPE)
                    for name, _ in DTYPE:
                        records[name] = frame.col(name)
                    h5.create_dataset(key, data=records)
                    rows += frame.length
        print(json.dumps({"rows": rows, "write_seconds": time.perf_counter() - t0}), flush=True)


if __name__ == "__main__":
    main()
