"""Seed 000 in Python, over a frame a Node process made: a pandas DataFrame of several dtypes
whose columns are views of the shared memory, so the seed's `df.loc[:, 'col1'] *= 2` changes
what every process sees. Run by index.js (or: PYTHONPATH=python python3 view.py <heap name>)."""
import sys

import numpy as np
import shmframe

heap = shmframe.Heap.open(sys.argv[1])  # the named heap Node created
role = sys.argv[2]

with heap.lookup("seed000") as frame:  # published by Node under a key: no name/shape/dtype on the side
    df = frame.to_pandas()
    if role == "writer":
        print(df.dtypes.to_string())
        views = [c for c in df.columns if c != "label" and np.shares_memory(df[c].to_numpy(), frame.col(c))]
        print(f"columns that are views of the heap: {', '.join(views)}")
        df.loc[:, "col1"] *= 2  # the seed's line, on a frame of five dtypes
        df.loc[:, "n"] += 100
        print(f"python (writer) doubled col1: {df['col1'].tolist()}")
    else:
        print(f"python (second process) sees col1 = {df['col1'].tolist()}")
        col2 = frame.col("col2")  # a numpy view: the seed's shm_array['col2'] *= 3
        col2 *= 3
        print("python (second process) tripled col2 through a numpy view")
