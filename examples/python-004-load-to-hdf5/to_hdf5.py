"""Seed 004's parent in Python, fed by Node: the frames Node's readDelimited loaded are in the
heap under keys (one per file). This process gets them by key, checks each against np.loadtxt
with the seed's structured dtype, and writes them with h5py, one compound dataset per file.
Run by index.js (or: PYTHONPATH=python python3 to_hdf5.py <heap name> <out.h5> <files...>).
"""
import os
import sys

import h5py
import numpy as np
import shmframe

DTYPE = [("chr", "S10"), ("pos", "<i4"), ("pct", "<f4"), ("c", "<i4"), ("t", "<i4")]

heap = shmframe.Heap.open(sys.argv[1])
out, files = sys.argv[2], sys.argv[3:]
with h5py.File(out, "w") as h5:
    for path in files:
        key = os.path.splitext(os.path.basename(path))[0]
        with heap.lookup(key) as frame:  # no SharedMemory name, shape or dtype passed on the side
            cols = {name: frame.col(name) for name, _ in DTYPE}  # numpy views of Node's columns
            ref = np.loadtxt(path, dtype=DTYPE)
            same = all(np.array_equal(cols[n], ref[n]) for n, _ in DTYPE)
            records = np.empty(frame.length, dtype=DTYPE)  # h5py writes compound data from records
            for n, _ in DTYPE:
                records[n] = cols[n]
            h5.create_dataset(key, data=records)
            print(f"{key}: {frame.length} rows, equal to np.loadtxt: {same}")
with h5py.File(out, "r") as h5:
    print(f"wrote {os.path.basename(out)}: datasets {', '.join(h5)}, {sum(d.shape[0] for d in h5.values())} rows")
