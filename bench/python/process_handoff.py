#!/usr/bin/python3
"""The seeds' way to hand an array to another process and back: the parent copies it into a
multiprocessing SharedMemory block, sends (name, shape, dtype) through a multiprocessing Queue;
the child attaches SharedMemory(name=...), views it with np.ndarray(buffer=shm.buf), reads one
element, closes, and sends (name, shape, dtype) back; the parent attaches again and reads.

Timed: one round trip (the block exists already, as for shmframe's hand-off), median of
`repeats` samples of `inner` round trips. Also the 'empty' round trip (a tiny message there and
back) for reference.

usage: process_handoff.py --sizes 4194304,41943040 [--repeats 7] [--inner 200]
Prints one JSON object: {"python": ..., "numpy": ..., "sizes": {bytes: {"handoff_ms": [...], "empty_ms": [...]}}}
"""
import argparse
import json
import multiprocessing as mp
import sys
import time
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory

import numpy as np


def child(inq, outq):
    while True:
        msg = inq.get()
        if msg is None:
            return
        if msg == 'empty':
            outq.put(0)
            continue
        name, shape, dtype = msg
        shm = SharedMemory(name=name)
        # Python 3.11 registers an attached segment with the resource tracker, which would unlink
        # it at exit and warn of a leak: the seeds' users hit this; undo it as they must.
        resource_tracker.unregister(shm._name, 'shared_memory')
        a = np.ndarray(shape, dtype=dtype, buffer=shm.buf)
        v = float(a[0])
        del a
        shm.close()
        outq.put((name, shape, dtype, v))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', required=True)
    p.add_argument('--repeats', type=int, default=7)
    p.add_argument('--inner', type=int, default=200)
    o = p.parse_args()
    ctx = mp.get_context('fork')
    inq, outq = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=child, args=(inq, outq))
    proc.start()
    out = {'python': sys.version.split()[0], 'numpy': np.__version__, 'sizes': {}}
    for size in [int(s) for s in o.sizes.split(',')]:
        n = size // 8
        shm = SharedMemory(create=True, size=size)
        a = np.ndarray((n,), dtype='f8', buffer=shm.buf)
        a[:] = 1.5
        del a

        def handoff():
            inq.put((shm.name, (n,), 'f8'))
            name, shape, dtype, v = outq.get()
            if v != 1.5:
                raise RuntimeError(f'child read {v}')
            back = SharedMemory(name=name)
            resource_tracker.unregister(back._name, 'shared_memory')
            b = np.ndarray(shape, dtype=dtype, buffer=back.buf)
            assert b[0] == 1.5
            del b
            back.close()

        def empty():
            inq.put('empty')
            outq.get()

        for _ in range(20):
            handoff()
            empty()
        h, e = [], []
        for _ in range(o.repeats):
            t = time.perf_counter()
            for _ in range(o.inner):
                handoff()
            h.append((time.perf_counter() - t) * 1000 / o.inner)
            t = time.perf_counter()
            for _ in range(o.inner):
                empty()
            e.append((time.perf_counter() - t) * 1000 / o.inner)
        out['sizes'][str(size)] = {'handoff_ms': h, 'empty_ms': e}
        shm.close()
        shm.unlink()
    inq.put(None)
    proc.join()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
