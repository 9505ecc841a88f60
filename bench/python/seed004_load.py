#!/usr/bin/python3
"""Seed 004: children load TSV files into shared memory, the parent writes one HDF5 file.

The seed's Pool version: `Pool(processes=workers).map(load_and_share, ...)`, where each child
parses one file with np.loadtxt and the structured dtype
[('chr','S10'), ('pos','<i4'), ('pct','<f4'), ('c','<i4'), ('t','<i4')], copies it into a new
SharedMemory block and returns its name, shape and dtype; the parent attaches each block, writes
it to the HDF5 file with h5py (one compound dataset per input file, named after the file's stem),
then closes and unlinks it.

--parser pandas swaps np.loadtxt for pandas.read_csv (same dtype, C parser) followed by
to_records into the same structured array: the rest of the pipeline is unchanged (pandas is
imported by the parent, before the pool forks, so the children do not pay for the import).

One line is added to the seed: the parent starts multiprocessing's resource tracker before the
pool forks. Without it (Linux, fork, Python < 3.13) each child starts its own tracker, which
unlinks the child's segments when the pool shuts the child down: a race with the parent's attach
that ends in the seed's "memory not found" (FileNotFoundError) whenever the parent is slower.

usage: seed004_load.py --out OUT.h5 [--parser loadtxt|pandas] [--workers 2] [--header] FILE...
Prints one JSON object (see bench/README.md).
"""
import argparse
import json
import os
import resource
import sys
import time
from multiprocessing import Pool, shared_memory
from pathlib import Path

import h5py
import numpy as np
from multiprocessing import resource_tracker

pandas = None  # imported in main() when --parser pandas

DTYPE = [('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]


def parse(filepath, dtype, parser, header):
    if parser == "loadtxt":
        return np.loadtxt(filepath, dtype=dtype, skiprows=1 if header else 0)
    names = [n for n, _ in dtype]
    df = pandas.read_csv(
        filepath,
        sep="\t",
        header=0 if header else None,
        names=names,
        dtype={"chr": str, "pos": "int32", "pct": "float32", "c": "int32", "t": "int32"},
        engine="c",
    )
    return df.to_records(index=False, column_dtypes=dict(dtype)).view(np.ndarray).astype(dtype, copy=False)


# the seed's worker, with the parser as a parameter
def load_and_share(file_info):
    filepath, dtype, parser, header = file_info
    t0 = time.perf_counter()
    data = parse(filepath, dtype, parser, header)
    t1 = time.perf_counter()
    shm = shared_memory.SharedMemory(create=True, size=data.nbytes)
    shared_array = np.ndarray(data.shape, dtype=dtype, buffer=shm.buf)
    shared_array[:] = data
    t2 = time.perf_counter()
    return {"name": shm.name, "shape": data.shape, "dtype": dtype,
            "parse_seconds": t1 - t0, "share_seconds": t2 - t1}


def cpu_seconds():
    # CPU time of this process and of its children that have exited (the pool's, once closed)
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--out", required=True, help="HDF5 file to write (overwritten)")
    p.add_argument("--parser", choices=("loadtxt", "pandas"), default="loadtxt")
    p.add_argument("--workers", type=int, default=2, help="Pool(processes=...) as in the seed")
    p.add_argument("--header", action="store_true", help="the files start with a header line")
    a = p.parse_args()

    if a.parser == "pandas":
        global pandas
        import pandas

    dtype = DTYPE
    filenames = a.files
    bytes_in = sum(os.path.getsize(f) for f in filenames)
    file_info = [(file, dtype, a.parser, a.header) for file in filenames]

    resource_tracker.ensure_running()  # see the module docstring
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    with Pool(processes=a.workers) as pool:
        results = pool.map(load_and_share, file_info)
    t1 = time.perf_counter()

    rows = 0
    with h5py.File(a.out, "w") as h5:
        for file, res in zip(filenames, results):
            shm = shared_memory.SharedMemory(name=res["name"])
            array = np.ndarray(res["shape"], dtype=res["dtype"], buffer=shm.buf)
            h5.create_dataset(Path(file).stem, data=array)
            rows += array.shape[0]
            del array
            shm.close()
            shm.unlink()
    t2 = time.perf_counter()

    out = {
        "script": "seed004_load",
        "parser": a.parser,
        "workers": a.workers,
        "files": len(filenames),
        "rows": rows,
        "bytes_in": bytes_in,
        "out": a.out,
        "out_bytes": os.path.getsize(a.out),
        "load_seconds": t1 - t0,
        "write_seconds": t2 - t1,
        "seconds": t2 - t0,
        "cpu_seconds": cpu_seconds() - cpu0,
        "parse_seconds": [r["parse_seconds"] for r in results],
        "share_seconds": [r["share_seconds"] for r in results],
        "mb_per_second": bytes_in / 1e6 / (t2 - t0),
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "h5py": h5py.__version__},
    }
    print(
        f"seed004 {a.parser}: {rows} rows from {len(filenames)} files in {out['seconds']:.2f} s "
        f"(load {out['load_seconds']:.2f} s, write {out['write_seconds']:.2f} s)",
        file=sys.stderr,
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
