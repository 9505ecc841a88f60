// The patterns the docs teach, under plain `strict` (without noUncheckedIndexedAccess, which
// makes every indexed read `T | undefined` in TypeScript): each failed before frames and arrays
// were typed (TS7053, TS2571, TS2365), and must compile now. Checked by `npm run lint`.
import { SharedArray, SharedFrame } from 'shmframe';

export function patterns(): void {
  const f = SharedFrame.from({ x: [0, 1, 2], name: ['a', 'b', null] });
  const x = f.col('x');
  for (let i = 0; i < x.length; i++) x[i] *= 2; // was TS7053: FrameColumn has no index signature
  const cell = f.get(0, 'x');
  const twice = cell === null ? NaN : cell * 2; // was TS2571: get() returned unknown
  const a = SharedArray.from(new Float64Array([1, 2, 3]));
  const scaled = a.data[0] * 2; // was TS2365: data was a union with BigInt64Array
  const next = a.get(0) + 1; // was TS2365: get() returned number | bigint | ...
  const m = SharedArray.zeros([2, 3], 'f8');
  const [rows, cols] = m.shape; // a tuple: both are numbers
  const total: number = rows * cols;
  // @ts-expect-error: a null cell reads null, so get() is number | null
  const unchecked: number = f.get(0, 'x') * 2;
  void [twice, scaled, next, total, unchecked];
  for (const o of [f, a, m]) o.close();
}
