"""Seed 001 in Python: a frame of strings and NaN in shared memory that a multiprocessing.Pool of
workers writes to and appends to, and that the parent (and Node, afterwards) keeps using.

The seed's recipe converts the DataFrame to a structured array (strings as |S, NaN as float),
copies it into SharedMemory, and sends name, shape and dtypes to each child, which rebuilds a
DataFrame that is a copy (pandas) and cannot grow. Here the frame is passed to the workers as is:
it pickles as the string form of a handle, and each worker gets the shared frame itself.
Run by index.js (or: PYTHONPATH=python python3 pool.py <heap name>).
"""
import multiprocessing as mp
import sys

import numpy as np
import pandas as pd
import shmframe


def work(args):
    frame, k = args  # a SharedFrame attached in this worker: the same memory as the parent's
    with frame:
        if k == 0:
            for row in range(2):  # fill the parent's missing d2 values in place
                if frame.is_null(row, "d2"):
                    frame.set(row, "d2", 3.0)
        rows = 50
        return frame.append(
            {
                "w1": [f"worker-{k}-{i}" for i in range(rows)],
                "w2": ["obstacle" if i % 2 else f"kind-{k}" for i in range(rows)],
                "d1": np.full(rows, k),
                "d2": [None if i % 5 == 0 else float(i) for i in range(rows)],
            }
        )


if __name__ == "__main__":
    heap = shmframe.Heap.open(sys.argv[1])
    to_share = pd.DataFrame(
        [["obstacle", "obstacle", 2, 3], ["obstacles", "obstacle", 2, np.nan]], columns=["w1", "w2", "d1", "d2"]
    )
    frame = shmframe.SharedFrame.from_pandas(heap, to_share, capacity=256, schema={"w2": "category"})
    with mp.Pool(4) as pool:
        starts = pool.map(work, [(frame, k) for k in range(4)])
    print(f"4 workers appended 50 rows each at rows {', '.join(map(str, sorted(starts)))}: length {frame.length}")
    df = frame.to_pandas()
    print(f"python parent: d2 has {int(df['d2'].isna().sum())} missing values, row 1 d2 = {df['d2'][1]}")
    heap.publish("seed001", frame)  # for Node, which reads the frame after this process exits
    frame.close()
