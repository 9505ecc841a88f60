#!/usr/bin/python3
"""The seeds' computations in numpy and pandas, on the data bench/cases/compute.js wrote.

The case writes every input as .npy files into one folder (the very numbers its shmframe and
plain-JS runs use), this script loads them and times what a numpy/pandas user writes:

  sum        df['x'].sum()                                   (1M f8, no missing values)
  mean       df['y'].mean()                                  (1M f8, 1% NaN: pandas skips them)
  filter     df[mask]                                        (x, y, chr, pct; about half the rows)
  sort       df.sort_values('x')
  groupby    df.groupby('chr', observed=True)['pct'].agg(['count', 'mean'])   (example 004)
  matcher    np.sum((d1 @ d2.T) / d1.shape[1] > 0.4)         (seed 002's consumer)
  transform  np.outer(values[r], data.mean(axis=0))          (seed 002's row transform)

usage: compute.py --dir <folder> [--repeats 5] [--ops sum,mean,...]
Prints one JSON object: {"versions": {...}, "results": {op: {"ms": [...], "value": ...}}}.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd


def timed(fn, repeats):
    value = fn()  # warm-up, and the value to check
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples, value


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--dir', required=True)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--ops', default='sum,mean,filter,sort,groupby,matcher,transform')
    a = p.parse_args()
    load = lambda name: np.load(os.path.join(a.dir, name + '.npy'))
    ops = a.ops.split(',')
    out = {}

    if any(op in ops for op in ('sum', 'mean', 'filter', 'sort', 'groupby')):
        labels = json.load(open(os.path.join(a.dir, 'chr_labels.json')))
        df = pd.DataFrame(
            {
                'x': load('x'),
                'y': load('y'),
                'chr': pd.Categorical.from_codes(load('chr_codes'), categories=labels),
                'pct': load('pct'),
            },
            copy=False,
        )
        mask = load('mask')
        if 'sum' in ops:
            s, v = timed(lambda: df['x'].sum(), a.repeats)
            out['sum'] = {'ms': s, 'value': float(v)}
        if 'mean' in ops:
            s, v = timed(lambda: df['y'].mean(), a.repeats)
            out['mean'] = {'ms': s, 'value': float(v)}
        if 'filter' in ops:
            s, v = timed(lambda: df[mask], a.repeats)
            out['filter'] = {'ms': s, 'value': int(len(v))}
        if 'sort' in ops:
            s, v = timed(lambda: df.sort_values('x'), a.repeats)
            out['sort'] = {'ms': s, 'value': float(v['x'].iloc[0])}
        if 'groupby' in ops:
            s, v = timed(
                lambda: df.groupby('chr', observed=True)['pct'].agg(['count', 'mean']), a.repeats
            )
            out['groupby'] = {'ms': s, 'value': int(len(v))}

    if 'matcher' in ops:
        d1, d2 = load('d1'), load('d2')
        s, v = timed(lambda: int(np.sum((d1 @ d2.T) / d1.shape[1] > 0.4)), a.repeats)
        out['matcher'] = {'ms': s, 'value': v}

    if 'transform' in ops:
        values, data = load('values'), load('data')
        r = int(open(os.path.join(a.dir, 'row.txt')).read())
        s, v = timed(lambda: np.outer(values[r], data.mean(axis=0)), a.repeats)
        out['transform'] = {'ms': s, 'value': float(v.sum())}

    versions = {'python': sys.version.split()[0], 'numpy': np.__version__, 'pandas': pd.__version__}
    print(json.dumps({'versions': versions, 'results': out}))


if __name__ == '__main__':
    main()
