// Type-level checks of typed frames and arrays (run by `npm run lint` through tsc; nothing
// executes). Each `@ts-expect-error` is a mistake TypeScript must catch.
import {
  Pool,
  readDelimited,
  SharedArray,
  SharedFrame,
  SharedQueue,
  writeHDF5,
  type DataOf,
  type FrameCellOf,
  type SchemaOf,
} from 'shmframe';

/** Compiles only when A and B are the same type. */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): void {}

export function arrays(): void {
  const a = SharedArray.zeros([2, 3], 'f8');
  const data: Float64Array = a.data;
  const x: number = a.get(0, 1) + 1;
  expectType<Equal<typeof a, SharedArray<'f8', 2>>>();
  a.set([0, 1], 2.5);
  // @ts-expect-error: a string in an f8 array
  a.set([0, 1], 'two');
  // @ts-expect-error: a 2-D array takes two indices
  a.get(0);
  data.forEach((v, i) => (data[i] = v * 2));

  const b = SharedArray.zeros([4], '<i8');
  const big: bigint = b.get(0) + 1n;
  // @ts-expect-error: an i8 array holds bigints, not numbers
  const wrong: number = b.get(0);
  expectType<Equal<typeof b.data, BigInt64Array>>();

  const c = SharedArray.from(new Float32Array(3));
  expectType<Equal<typeof c, SharedArray<'<f4', 1>>>();
  for (const v of c) {
    const k: number = v;
    void k;
  }
  const d = SharedArray.from([
    [1, 2],
    [3, 4],
  ]);
  expectType<Equal<typeof d, SharedArray<'<f8', 2>>>();
  for (const row of d) {
    const r: SharedArray<'<f8', 1> = row;
    void r;
  }
  const nested: number[][] = d.toArray();
  const json: number[][] = d.toJSON();

  const e = SharedArray.full([3], 7n);
  expectType<Equal<typeof e.data, BigInt64Array>>();
  const f = SharedArray.full([3], 1, 'int32');
  expectType<Equal<typeof f.data, Int32Array>>();
  const g = SharedArray.zeros(5);
  expectType<Equal<typeof g, SharedArray<'<f8', 1>>>();
  const h = SharedArray.zeros([2], 'float64');
  expectType<Equal<typeof h.data, Float64Array>>();
  const m = SharedArray.zeros([2], 'M8[ms]');
  expectType<Equal<typeof m.data, BigInt64Array>>();
  const bigJson: string[] = b.toJSON();
  const s = SharedArray.full([2], 'ab');
  const str: string = s.get(0);
  const ok = SharedArray.zeros([2], 'bool');
  const flag: boolean = ok.get(0);

  // untyped: a dtype known only at run time gives today's unions
  const dtype: string = process.argv[2] ?? 'f8';
  const u = SharedArray.zeros([3], dtype);
  const ud:
    | Float64Array
    | BigInt64Array
    | Uint8Array
    | Int32Array
    | Int8Array
    | Int16Array
    | Uint16Array
    | Uint32Array
    | Float32Array
    | BigUint64Array = u.data;
  // @ts-expect-error: number | bigint | boolean | string
  const un: number = u.get(0);
  const attached = SharedArray.attach<'f8'>(a.handle);
  const ad: Float64Array = attached.data;
  const checked = SharedArray.attach(a.handle, { dtype: 'f8' });
  const cd: Float64Array = checked.data;
  // @ts-expect-error: an f8 array holds numbers, not bigints
  const notBig: bigint = a.get(0, 0);
  const [rows, cols] = a.shape; // a 2-D shape is a pair of numbers, even with noUncheckedIndexedAccess
  const area: number = rows * cols;
  expectType<Equal<DataOf<'<f8'>, Float64Array>>();
  expectType<Equal<DataOf<'i8'>, BigInt64Array>>();
  expectType<Equal<DataOf<'=u2'>, Uint16Array>>();
  expectType<Equal<DataOf<'datetime64[ns]'>, BigInt64Array>>();
  expectType<Equal<DataOf<'|S12'>, Uint8Array>>();
  const plain: SharedArray = a; // a typed array is still a SharedArray
  void [notBig, area];
  void [x, big, wrong, nested, json, bigJson, str, flag, ud, un, ad, cd, plain];
  for (const o of [a, b, c, d, e, f, g, h, m, s, ok, u, attached, checked]) o.close();
}

export function frames(): void {
  const f = SharedFrame.create(
    { x: 'f8', n: 'i4', s: 'utf8', c: 'category', b: 'bool' },
    { capacity: 10 },
  );
  const x: Float64Array = f.col('x');
  x.forEach((v, i) => (x[i] = v * 2));
  const n: Int32Array = f.col('n');
  const cell: number | null = f.get(0, 'x');
  const sc: string | null = f.get(0, 's');
  const bc: boolean | null = f.get(0, 'b');
  expectType<Equal<typeof cell, number | null>>();
  const doubled = (f.get(0, 'x') ?? NaN) * 2;
  f.set(0, 'x', 1.5);
  f.set(0, 'c', 'Paris');
  f.set(0, 's', null);
  // @ts-expect-error: a string written to an f8 column
  f.set(0, 'x', 'one');
  // @ts-expect-error: utf8 cells are immutable (only null is accepted)
  f.set(0, 's', 'text');
  // @ts-expect-error: no such column
  f.col('y');
  // @ts-expect-error: no such column
  f.get(0, 'y');
  f.append({ x: 1, n: 2, s: 'a' });
  f.append([{ x: 1 }, { s: null }]);
  f.append({ x: new Float64Array([1, 2]), s: ['a', 'b'] });
  // @ts-expect-error: a string for an f8 column
  f.append({ x: 'one' });
  for (const row of f) {
    const r: {
      x: number | null;
      n: number | null;
      s: string | null;
      c: string | null;
      b: boolean | null;
    } = row;
    void r;
  }
  const j = f.toJSON();
  const jx: Array<number | null> = j.x;
  const head: SharedFrame<typeof f extends SharedFrame<infer S> ? S : never> = f.head(3);
  const sel = f.select(['x', 'n']);
  // @ts-expect-error: not selected
  sel.col('s');
  const v = f.select(['x']).values();
  expectType<Equal<typeof v.data, Float64Array>>();
  const plain: SharedFrame = f; // a typed frame is still a SharedFrame
  expectType<Equal<FrameCellOf<'M8[ms]'>, Date | null>>();
  expectType<Equal<FrameCellOf<'u8'>, bigint | null>>();
  expectType<Equal<FrameCellOf<string>, number | bigint | boolean | string | Date | null>>();
  void [n, sc, bc, doubled, jx, head, plain];

  const g = SharedFrame.from({
    a: [1, 2, null],
    s: ['x', null, 'z'],
    t: new Int16Array(3),
    d: [new Date(), null, null],
  });
  const ga: Float64Array = g.col('a');
  const gs: string | null = g.get(0, 's');
  const gt: Int16Array = g.col('t');
  const gd: Date | null = g.get(0, 'd');
  const h = SharedFrame.from({ city: ['a', 'b'], temp: [1, 2] }, { schema: { city: 'category' } });
  expectType<Equal<ReturnType<typeof h.col<'city'>>, import('shmframe').CategoryColumn>>();
  void [ga, gs, gt, gd];

  // untyped: a schema known only at run time gives today's unions
  const schema: Record<string, string> = { x: 'f8' };
  const u = SharedFrame.create(schema, { capacity: 1 });
  const uc = u.col('anything');
  // @ts-expect-error: FrameColumn is a union: no numeric index signature
  uc[0] = 1;
  const a = SharedFrame.attach(f.handle);
  const ac = a.col('whatever');
  const t = SharedFrame.attach<{ x: 'f8' }>(f.handle);
  const tx: Float64Array = t.col('x');
  const k = SharedFrame.attach(f.handle, { schema: { x: 'f8', s: 'utf8' } });
  const kx: Float64Array = k.col('x');
  void [ac, tx, kx];
}

export function computing(): void {
  // filter and sortBy make a frame of the same columns: it keeps the schema (seed 001's frame)
  const f = SharedFrame.from(
    {
      w1: ['obstacle', 'wall', null],
      d1: [2, 5, 1],
      d2: [3, NaN, null],
      t: [new Date(), null, null],
    },
    { schema: { d1: 'i4', w1: 'category' } },
  );
  const big = f.filter(Array.from(f.col('d1'), (d) => d > 1));
  expectType<Equal<typeof big, typeof f>>();
  const sorted = big.sortBy('d2', { descending: true });
  expectType<Equal<typeof sorted, typeof f>>();
  const w1: import('shmframe').CategoryColumn = sorted.col('w1');
  const d1: Int32Array = f.sortBy(['w1', 'd1']).col('d1');
  const picked = f.select(['d1', 'd2']).filter((i) => i > 0);
  // @ts-expect-error: the view showed d1 and d2 only
  picked.col('w1');
  // @ts-expect-error: no such column
  f.sortBy('nope');
  // @ts-expect-error: no such column among the keys
  f.sortBy(['d1', 'nope']);
  // min and max read as get does
  const first: string | null = f.min('w1');
  const last: Date | null = f.max('t');
  const most: number | null = f.max('d1');
  // @ts-expect-error: a number column's max is not a string
  const wrong: string | null = f.max('d1');
  // @ts-expect-error: no such column
  f.sum('nope');
  // @ts-expect-error: no such column
  f.mean('nope');
  // @ts-expect-error: no such column
  f.count('nope');
  // @ts-expect-error: no such column
  f.isna(0, 'nope');
  const total: number | bigint = f.sum('d1');
  const mean: number | null = f.mean('d2', { skipNaN: true });
  // untyped frames take any name and give the unions
  const u: SharedFrame = f;
  const us: SharedFrame = u.sortBy('anything').filter([true]);
  const um: import('shmframe').FrameCell = u.min('anything');
  void [w1, d1, first, last, most, wrong, total, mean, us, um];
}

export async function loaders(): Promise<void> {
  const f = await readDelimited('data.txt', {
    schema: "[('chr', 'S10'), ('pos', '<i4'), ('pct', '<f4'), ('c', '<i4'), ('t', '<i4')]",
  });
  const pos: Int32Array = f.col('pos');
  const pct: Float32Array = f.col('pct');
  const chr: string | null = f.get(0, 'chr');
  // @ts-expect-error: no such column
  f.col('nope');
  const g = await readDelimited(['a.txt'], { schema: 'chr:S10,pos:i4', concat: false });
  const gp: Int32Array | undefined = g[0]?.col('pos');
  const h = await readDelimited('a.txt', {
    schema: [
      ['a', 'f8'],
      ['b', 'utf8'],
    ],
  });
  const ha: Float64Array = h.col('a');
  const i = await readDelimited('a.txt', { schema: { a: 'int64' } });
  const ia: BigInt64Array = i.col('a');
  expectType<Equal<SchemaOf<'a:f8, b:i4'>, { readonly a: 'f8'; readonly b: 'i4' }>>();
  void [pos, pct, chr, gp, ha, ia];
}

export async function typedObjectsGoEverywhere(): Promise<void> {
  // Typed frames and arrays are accepted wherever the untyped classes are.
  const f = SharedFrame.from({ x: new Float64Array(3), s: ['a', 'b', 'c'] });
  const a = SharedArray.zeros([3], 'i4');
  await writeHDF5('out.h5', { f, a });
  const q = SharedQueue.create<[SharedFrame, SharedArray]>({ capacity: 2 });
  q.put([f, a]);
  const pool = new Pool({ module: new URL('./tasks.js', import.meta.url) });
  await pool.run('anything', { f, a });
  await pool.close();
  const frames: SharedFrame[] = [f, f.head(), f.select(['s'])];
  const arrays: SharedArray[] = [a, f.select(['x']).values(), SharedArray.from([[1n]])];
  void [frames, arrays];
}
