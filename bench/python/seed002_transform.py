#!/usr/bin/python3
"""Seed 002, part 1: the row transform, exactly as the seed writes it.

A rows x cols pandas frame of random floats; `do_work` builds a random matrix of the frame's
size, takes its mean across rows and returns the outer product with one row (a cols x cols
result per task, although the seed's text says it has the frame's size). Three ways, each timed:

  sequential  for each task: do_work((df, df.index[i]))
  naive       mp.Pool().imap(do_work, ((df, idx) ...)): the frame is pickled into every task
  shared      the seed's SharedNumpyArray / SharedPandasDataFrame wrappers: the frame is copied
              once into SharedMemory, tasks carry the wrapper, workers return their result as a
              SharedNumpyArray that the parent unlinks

The seed's tqdm progress bar is left out (tqdm may be absent; the bar is not the work).

usage: seed002_transform.py [--rows 1000] [--cols 5000] [--tasks 250] [--modes sequential,naive,shared]
                            [--workers N] [--repeats 1] [--seed 0]
Prints one JSON object (see bench/README.md).
"""
import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from multiprocessing.shared_memory import SharedMemory

import numpy as np
import pandas as pd


# ---------------------------------------------------------------- the seed's code, verbatim


def do_work(args):
    df, idx = args
    data = np.random.random(size=(len(df), len(df.columns)))
    result = np.outer(df.loc[idx], data.mean(axis=0))
    return result


class SharedNumpyArray:
    '''
    Wraps a numpy array so that it can be shared quickly among processes,
    avoiding unnecessary copying and (de)serializing.
    '''
    def __init__(self, array):
        '''
        Creates the shared memory and copies the array therein
        '''
        # create the shared memory location of the same size of the array
        self._shared = SharedMemory(create=True, size=array.nbytes)

        # save data type and shape, necessary to read the data correctly
        self._dtype, self._shape = array.dtype, array.shape

        # create a new numpy array that uses the shared memory we created.
        # at first, it is filled with zeros
        res = np.ndarray(
            self._shape, dtype=self._dtype, buffer=self._shared.buf
        )

        # copy data from the array to the shared memory. numpy will
        # take care of copying everything in the correct format
        res[:] = array[:]

    def read(self):
        '''
        Reads the array from the shared memory without unnecessary copying.
        '''
        # simply create an array of the correct shape and type,
        # using the shared memory location we created earlier
        return np.ndarray(self._shape, self._dtype, buffer=self._shared.buf)

    def copy(self):
        '''
        Returns a new copy of the array stored in shared memory.
        '''
        return np.copy(self.read_array())

    def close(self):
        '''
        Closes the shared memory. Call when this object will not
        be used anymore *in this process* (but it can still be used
        in other processes)
        '''
        self._shared.close()

    def unlink(self):
        '''
        Unlinks the shared memory. Call when this object will not be
        used anymore in any process.
        '''
        self._shared.unlink()


class SharedPandasDataFrame:
    '''
    Wraps a pandas dataframe so that it can be shared quickly among processes,
    avoiding unnecessary copying and (de)serializing.
    '''
    def __init__(self, df):
        '''
        Creates the shared memory and copies the dataframe therein
        '''
        self._values = SharedNumpyArray(df.values)
        self._index = df.index
        self._columns = df.columns

    def read(self):
        '''
        Reads the dataframe from the shared memory
        without unnecessary copying.
        '''
        return pd.DataFrame(
            self._values.read(),
            index=self._index,
            columns=self._columns
        )

    def copy(self):
        '''
        Returns a new copy of the dataframe stored in shared memory.
        '''
        return pd.DataFrame(
            self._values.copy(),
            index=self._index,
            columns=self._columns
        )

    def close(self):
        '''
        Closes the shared memory. Call when this object will not
        be used anymore *in this process* (but it can still be used
        in other processes)
        '''
        self._values.close()

    def unlink(self):
        '''
        Unlinks the shared memory. Call when this object will not be
        used anymore in any process.
        '''
        self._values.unlink()


def work_fast(args):
    shared_df, idx = args

    # read dataframe from shared memory
    df = shared_df.read()

    # call old function
    result = do_work((df, idx))

    # wrap and return the result
    return SharedNumpyArray(result)


# ---------------------------------------------------------------- timing harness


def run_sequential(df, process_rows):
    t0 = time.perf_counter()
    for i in process_rows:
        result = do_work((df, df.index[i]))  # noqa: F841 (the seed discards it too)
    t1 = time.perf_counter()
    return {"seconds": t1 - t0, "loop_seconds": t1 - t0}


def run_naive(df, process_rows, workers):
    t0 = time.perf_counter()
    with mp.Pool(workers) as pool:
        t_loop = time.perf_counter()
        tasks = ((df, df.index[idx]) for idx in process_rows)
        result = pool.imap(do_work, tasks)
        for res in result:
            pass
        t_end = time.perf_counter()
    t1 = time.perf_counter()
    return {"seconds": t1 - t0, "loop_seconds": t_end - t_loop}


def run_shared(df, process_rows, workers):
    t0 = time.perf_counter()
    shared_df = SharedPandasDataFrame(df)
    with mp.Pool(workers) as pool:
        t_loop = time.perf_counter()
        tasks = ((shared_df, df.index[idx]) for idx in process_rows)
        result = pool.imap(work_fast, tasks)
        for res in result:
            res.unlink()  # IMPORTANT
        t_end = time.perf_counter()
    shared_df.unlink()  # IMPORTANT
    t1 = time.perf_counter()
    return {"seconds": t1 - t0, "loop_seconds": t_end - t_loop}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--cols", type=int, default=5000)
    p.add_argument("--tasks", type=int, default=250)
    p.add_argument("--modes", default="sequential,naive,shared")
    p.add_argument("--workers", type=int, default=None, help="pool size (default: mp.Pool()'s, the CPU count)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    modes = [m for m in a.modes.split(",") if m]
    for m in modes:
        if m not in ("sequential", "naive", "shared"):
            p.error(f"unknown mode {m!r}: expected sequential, naive or shared")

    np.random.seed(a.seed)
    t0 = time.perf_counter()
    rows, cols = a.rows, a.cols
    df = pd.DataFrame(
        np.random.random(size=(rows, cols)),
        columns=[f'Col-{i}' for i in range(cols)],
        index=[f'Idx-{i}' for i in range(rows)]
    )
    frame_seconds = time.perf_counter() - t0
    process_rows = np.random.choice(len(df), a.tasks)

    out = {
        "script": "seed002_transform",
        "rows": rows,
        "cols": cols,
        "tasks": a.tasks,
        "workers": a.workers or os.cpu_count(),
        "repeats": a.repeats,
        "frame_bytes": int(df.values.nbytes),
        "frame_seconds": frame_seconds,
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "pandas": pd.__version__},
        "modes": {},
    }
    runners = {
        "sequential": lambda: run_sequential(df, process_rows),
        "naive": lambda: run_naive(df, process_rows, a.workers),
        "shared": lambda: run_shared(df, process_rows, a.workers),
    }
    for m in modes:
        runs = [runners[m]() for _ in range(a.repeats)]
        secs = [r["seconds"] for r in runs]
        loops = [r["loop_seconds"] for r in runs]
        med = statistics.median(secs)
        out["modes"][m] = {
            "seconds": secs,
            "loop_seconds": loops,
            "median": med,
            "min": min(secs),
            "max": max(secs),
            "tasks_per_second": a.tasks / med,
        }
        print(f"{m}: {med:.3f} s ({a.tasks / med:.1f} tasks/s)", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
