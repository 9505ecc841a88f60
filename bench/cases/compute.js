// Computing on shared data (issue 14): the built-in reductions, filter and sortBy, and the two
// zero-copy bridges of docs/compute.md (arquero over toArrow() for a group-by; @stdlib's strided
// BLAS and stats kernels over a.data / strides for seed 002's matcher and row transform), each
// against the plain JS loop over the same memory and against numpy/pandas on the same numbers
// (bench/python/compute.py loads the .npy files this case writes). One row per comparison.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as aq from 'arquero';
import dgemm from '@stdlib/blas-base-dgemm';
import dger from '@stdlib/blas-base-dger';
import dmean from '@stdlib/stats-strided-dmean';
import { Heap, SharedArray, SharedFrame, writeNpy } from 'shmframe';
import {
  GiB,
  MiB,
  availableMemory,
  detectPython,
  gc,
  measureInterleaved,
  runCase,
  runPython,
  summarize,
} from '../lib.js';

/** Uniform doubles in [0, 1) from a seeded xorshift (the same numbers every run). */
function random(n, seed) {
  const out = new Float64Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 4294967296;
  }
  return out;
}

const kLabels = Array.from({ length: 22 }, (_, i) => `chr${i + 1}`);

/** The frame: x f8, y f8 with 1% nulls, chr category (22 labels), pct f4; and a mask. */
function makeFrame(n, heap) {
  const x = random(n, 1);
  const y = Array.from(random(n, 2), (v, i) => (i % 100 === 7 ? null : v));
  const r = random(n, 3);
  const chr = Array.from(r, (v) => kLabels[Math.floor(v * v * 22)]); // uneven group sizes
  const pct = Float32Array.from(random(n, 4), (v) => Math.round(v * 10000) / 100);
  const f = SharedFrame.from({ x, y, chr, pct }, { heap, schema: { chr: 'category' } });
  const mask = Uint8Array.from(random(n, 5), (v) => (v < 0.5 ? 1 : 0));
  return { f, mask };
}

async function writeInputs(dir, { f, mask }, mats, heap) {
  const save = async (name, typed, shape, dtype) => {
    const a = SharedArray.from(typed, { heap, shape, dtype });
    try {
      await writeNpy(join(dir, `${name}.npy`), a);
    } finally {
      a.close();
    }
  };
  for (const name of ['x', 'y', 'pct']) await save(name, f.col(name));
  await save('chr_codes', f.col('chr').codes);
  writeFileSync(join(dir, 'chr_labels.json'), JSON.stringify(f.col('chr').categories));
  await save('mask', mask, undefined, 'bool');
  for (const [name, a] of Object.entries(mats)) await writeNpy(join(dir, `${name}.npy`), a);
}

const near = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

await runCase('compute', async ({ quick, repeats, result, log }) => {
  const n = quick ? 50_000 : 1_000_000;
  const [n1, feat] = quick ? [200, 250] : [2000, 250]; // matcher: d1, d2 are n1 x 250 (seed: 5000)
  const [rows, cols] = quick ? [100, 200] : [1000, 2000]; // transform: result cols x cols
  const need = quick ? 0.5 * GiB : 2 * GiB;
  if (availableMemory() < need) {
    result.skip(
      `needs ${need / GiB} GiB available, ${(availableMemory() / GiB).toFixed(1)} GiB are`,
    );
    return;
  }
  const reps = repeats ?? (quick ? 3 : 7);
  const heap = Heap.create({ size: quick ? 256 * MiB : 1 * GiB });
  const data = makeFrame(n, heap);
  const { f, mask } = data;
  const d1 = SharedArray.from(random(n1 * feat, 6), { heap, shape: [n1, feat] });
  const d2 = SharedArray.from(random(n1 * feat, 7), { heap, shape: [n1, feat] });
  const values = SharedArray.from(random(rows * cols, 8), { heap, shape: [rows, cols] });
  const drawn = SharedArray.from(random(rows * cols, 9), { heap, shape: [rows, cols] });
  const r = rows >> 1;
  const py = {};
  const label = n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`;

  // ---- numpy / pandas on the same numbers
  const python = detectPython(['numpy', 'pandas']);
  const dir = mkdtempSync(join(os.tmpdir(), 'shmframe-bench-compute-'));
  try {
    if (!python.ok) result.skip(`numpy/pandas comparisons: ${python.reason}`);
    else {
      await writeInputs(dir, data, { d1, d2, values, data: drawn }, heap);
      writeFileSync(join(dir, 'row.txt'), String(r));
      // One BLAS thread: every JS figure here is one thread too.
      const env = { ...process.env };
      process.env.OPENBLAS_NUM_THREADS = '1';
      process.env.OMP_NUM_THREADS = '1';
      try {
        const out = await runPython('compute.py', ['--dir', dir, '--repeats', String(reps)]);
        for (const [op, v] of Object.entries(out.result.results))
          py[op] = { ...v, stat: summarize(v.ms) };
        result.note(
          `numpy ${out.result.versions.numpy} / pandas ${out.result.versions.pandas} (bench/python/compute.py) on the same numbers, one BLAS thread (OPENBLAS_NUM_THREADS=1)`,
        );
      } finally {
        process.env = env;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const add = (id, what, ours, js, jsName, pyOp, pyName, check) => {
    result.add({
      id: `${id}-vs-js`,
      what,
      unit: 'ms',
      shmframe: ours,
      alternative: { name: jsName, stat: js },
    });
    if (py[pyOp]) {
      check?.(py[pyOp].value);
      result.add({
        id: `${id}-vs-python`,
        what,
        unit: 'ms',
        shmframe: ours,
        alternative: { name: pyName, stat: py[pyOp].stat },
      });
    }
  };

  // ---- sum of a 1M f8 column without nulls
  const x = f.col('x');
  let jsSum = 0;
  const sum = await measureInterleaved(
    {
      shm: () => check(f.sum('x') === jsSum || jsSum === 0, 'sum'),
      js: () => {
        let s = 0;
        for (let i = 0; i < x.length; i++) s += x[i];
        jsSum = s;
      },
    },
    { warmup: 3, repeats: reps },
  );
  check(f.sum('x') === jsSum, 'f.sum equals the loop');
  log(`sum: ${sum.shm.median.toFixed(2)} ms, loop ${sum.js.median.toFixed(2)} ms`);
  add(
    'sum',
    `f.sum('x'): ${label} f8, no nulls`,
    sum.shm,
    sum.js,
    'JS loop over col()',
    'sum',
    "pandas df['x'].sum()",
    (v) => check(near(v, jsSum), `pandas sum ${v} vs ${jsSum}`),
  );

  // ---- mean of a column with 1% nulls (NaN in numpy/pandas)
  const y = f.col('y');
  const mean = await measureInterleaved(
    {
      shm: () => f.mean('y'),
      js: () => {
        let s = 0;
        let c = 0;
        for (let i = 0; i < y.length; i++) {
          const v = y[i];
          if (v === v) {
            s += v;
            c++;
          }
        }
        return s / c;
      },
    },
    { warmup: 3, repeats: reps },
  );
  const m = f.mean('y');
  add(
    'mean',
    `f.mean('y'): ${label} f8, 1% nulls`,
    mean.shm,
    mean.js,
    'JS loop skipping NaN',
    'mean',
    "pandas df['y'].mean()",
    (v) => check(near(v, m), `pandas mean ${v} vs ${m}`),
  );

  // ---- filter by a mask (about half the rows), 4 columns incl. a category
  let kept = 0;
  for (let i = 0; i < n; i++) kept += mask[i];
  const gatherJs = (pick) => {
    const k = pick.length;
    const out = {
      x: new Float64Array(k),
      y: new Float64Array(k),
      chr: new Int32Array(k),
      pct: new Float32Array(k),
    };
    const src = { x, y, chr: f.col('chr').codes, pct: f.col('pct') };
    for (const name of ['x', 'y', 'chr', 'pct']) {
      const s = src[name];
      const d = out[name];
      for (let j = 0; j < k; j++) d[j] = s[pick[j]];
    }
    return out;
  };
  const filter = await measureInterleaved(
    {
      shm: () => {
        const g = f.filter(mask);
        check(g.length === kept, 'filter length');
        g.close();
      },
      js: () => {
        const pick = new Int32Array(kept);
        for (let i = 0, j = 0; i < n; i++) if (mask[i]) pick[j++] = i;
        check(gatherJs(pick).x.length === kept, 'js filter');
      },
    },
    { warmup: 1, repeats: reps, before: gc },
  );
  add(
    'filter',
    `f.filter(mask): ${label} rows x 4 columns (f8 f8 category f4), half kept`,
    filter.shm,
    filter.js,
    'JS gather into plain arrays',
    'filter',
    'pandas df[mask]',
    (v) => check(v === kept, `pandas kept ${v}`),
  );

  // ---- sort by a f8 column
  const sort = await measureInterleaved(
    {
      shm: () => {
        const g = f.sortBy('x');
        check(g.length === n, 'sorted length');
        g.close();
      },
      js: () => {
        const order = new Int32Array(n);
        for (let i = 0; i < n; i++) order[i] = i;
        order.sort((a, b) => x[a] - x[b] || a - b);
        gatherJs(order);
      },
    },
    { warmup: 1, repeats: quick ? reps : 3, before: gc },
  );
  add(
    'sort',
    `f.sortBy('x'): ${label} rows x 4 columns`,
    sort.shm,
    sort.js,
    'JS index sort + gather',
    'sort',
    "pandas df.sort_values('x')",
  );

  // ---- the bridge itself: an arquero table over the frame, vs building one from row objects
  {
    const objects = [...f.rows()];
    const bridge = await measureInterleaved(
      {
        shm: () => check(aq.fromArrow(f.toArrow()).numRows() === n, 'bridge rows'),
        copy: () => check(aq.from(objects).numRows() === n, 'aq.from rows'),
      },
      { warmup: 2, repeats: reps, before: gc },
    );
    result.add({
      id: 'arquero-bridge-vs-from-objects',
      what: `aq.fromArrow(f.toArrow()): an arquero table over a ${label}-row frame (x y chr pct), no copy`,
      unit: 'ms',
      shmframe: bridge.shm,
      alternative: { name: 'aq.from(row objects)', stat: bridge.copy },
    });
  }

  // ---- example 004's per-chromosome summary: arquero over toArrow()
  const codes = f.col('chr').codes;
  const pct = f.col('pct');
  let groups = 0;
  const group = await measureInterleaved(
    {
      shm: () => {
        const t = aq
          .fromArrow(f.toArrow())
          .groupby('chr')
          .rollup({ rows: aq.op.count(), pct: aq.op.mean('pct') });
        groups = t.numRows();
      },
      js: () => {
        const k = kLabels.length;
        const cnt = new Float64Array(k);
        const sum = new Float64Array(k);
        for (let i = 0; i < n; i++) {
          cnt[codes[i]]++;
          sum[codes[i]] += pct[i];
        }
        return sum.map((s, j) => s / cnt[j]);
      },
    },
    { warmup: 2, repeats: reps },
  );
  check(groups === kLabels.length, `arquero found ${groups} groups`);
  add(
    'groupby',
    `arquero: aq.fromArrow(f.toArrow()).groupby('chr').rollup(count, mean): ${label} rows, 22 groups`,
    group.shm,
    group.js,
    'JS loop over codes',
    'groupby',
    "pandas groupby('chr')['pct'].agg(['count','mean'])",
    (v) => check(v === groups, `pandas groups ${v}`),
  );

  // ---- seed 002's matcher: count of (d1 @ d2.T) / 250 > 0.4, with @stdlib/blas-base-dgemm
  const sim = SharedArray.empty([n1, n1], 'f8', { heap });
  let matches = -1;
  let jsMatches = -2;
  const matcher = await measureInterleaved(
    {
      shm: () => {
        const [a, b, c] = [d1, d2, sim];
        dgemm.ndarray(
          'no-transpose',
          'transpose',
          n1,
          n1,
          feat,
          1 / feat,
          a.data,
          a.strides[0],
          a.strides[1],
          0,
          b.data,
          b.strides[0],
          b.strides[1],
          0,
          0,
          c.data,
          c.strides[0],
          c.strides[1],
          0,
        );
        let k = 0;
        for (const v of c.data) if (v > 0.4) k++;
        matches = k;
      },
      js: () => {
        const [a, b] = [d1.data, d2.data];
        let k = 0;
        for (let i = 0; i < n1; i++)
          for (let j = 0; j < n1; j++) {
            let s = 0;
            for (let q = 0; q < feat; q++) s += a[i * feat + q] * b[j * feat + q];
            if (s / feat > 0.4) k++;
          }
        jsMatches = k;
      },
    },
    { warmup: 1, repeats: quick ? reps : 3 },
  );
  check(
    Math.abs(matches - jsMatches) <= 2,
    `dgemm found ${matches} matches, the loop ${jsMatches}`,
  );
  add(
    'matcher',
    `seed 002 matcher: (d1 @ d2.T) / 250 > 0.4 for ${n1} x ${feat} descriptors, @stdlib dgemm`,
    matcher.shm,
    matcher.js,
    'JS triple loop',
    'matcher',
    'numpy d1 @ d2.T',
    (v) => check(Math.abs(v - matches) <= 2, `numpy found ${v} matches`),
  );
  sim.close();

  // ---- seed 002's row transform: np.outer(values[r], data.mean(axis=0)), @stdlib dmean + dger
  const out = SharedArray.empty([cols, cols], 'f8', { heap });
  const means = new Float64Array(cols);
  const plainOut = new Float64Array(cols * cols);
  const transform = await measureInterleaved(
    {
      shm: () => {
        const [s0, s1] = drawn.strides;
        for (let j = 0; j < cols; j++) means[j] = dmean.ndarray(rows, drawn.data, s0, j * s1);
        out.data.fill(0);
        dger.ndarray(
          cols,
          cols,
          1,
          values.data,
          values.strides[1],
          r * values.strides[0],
          means,
          1,
          0,
          out.data,
          out.strides[0],
          out.strides[1],
          0,
        );
      },
      js: () => {
        const d = drawn.data;
        const mu = new Float64Array(cols);
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mu[j] += d[i * cols + j];
        for (let j = 0; j < cols; j++) mu[j] /= rows;
        const v = values.data;
        for (let i = 0; i < cols; i++) {
          const xi = v[r * cols + i];
          for (let j = 0; j < cols; j++) plainOut[i * cols + j] = xi * mu[j];
        }
      },
    },
    { warmup: 1, repeats: reps },
  );
  let total = 0;
  for (const v of out.data) total += v;
  let plainTotal = 0;
  for (const v of plainOut) plainTotal += v;
  check(Math.abs(total - plainTotal) <= 1e-6 * Math.abs(total), 'transform results agree');
  add(
    'transform',
    `seed 002 transform: outer(values[r], data.mean(axis=0)), ${rows} x ${cols} -> ${cols} x ${cols}, @stdlib dmean + dger`,
    transform.shm,
    transform.js,
    'JS loops',
    'transform',
    'numpy np.outer(..., data.mean(axis=0))',
    (v) => check(Math.abs(v - total) <= 1e-6 * Math.abs(total), `numpy total ${v} vs ${total}`),
  );
  out.close();

  for (const a of [d1, d2, values, drawn, f]) a.close();
  if (heap.stats().objects !== 0)
    throw new Error(`heap holds ${heap.stats().objects} objects at the end`);
});
