// Seed 000: a data frame over shared memory whose in-place writes every thread sees, with two
// float columns (where pandas silently copied) and with mixed dtypes.
// Run: node examples/000-frame-mutation/index.js
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Heap, SharedFrame } from 'shmframe';

// The default heap exists before the worker starts, so the worker shares it (docs/heap.md).
const heap = Heap.default();
const start = heap.stats();

const worker = new Worker(new URL('./worker.js', import.meta.url));
heap.watch(worker); // if the worker dies, what it held is released
const exited = once(worker, 'exit');
/** Posts a request to the worker and waits for its reply. */
async function ask(message) {
  worker.postMessage(message);
  const [reply] = await once(worker, 'message');
  return reply;
}

// ---- 1. The seed's two float64 columns, 0..9 each
const arange = (n) => Float64Array.from({ length: n }, (_, i) => i);
const df = SharedFrame.from({ col1: arange(10), col2: arange(10) });
console.log('Original shared frame:');
console.log(df.toString());

// df['col1'] *= 2 in the worker, in place; the frame travels as a handle (a few integers).
await ask({ op: 'scale', name: 'df', handle: df.handle, column: 'col1', by: 2 });
// shm_array['col2'] *= 3 here, in place: col() is a Float64Array over the shared memory.
const col2 = df.col('col2');
for (let i = 0; i < col2.length; i++) col2[i] *= 3;

console.log('\nAfter the worker doubled col1 and the main thread tripled col2, the worker sees:');
const seen = await ask({ op: 'show', name: 'df' });
console.log(seen);
console.log(`the main thread sees the same frame: ${seen === df.toString()}`);
const both = df.get(9, 'col1') === 18 && df.get(9, 'col2') === 27;
console.log(`both threads see both writes: ${both}`);

// What pandas could not give: the frame's numbers as ONE 2-D array over the same memory.
const values = df.values();
console.log(
  `\nvalues(): shape [${values.shape}], strides [${values.strides}] (column-major), ` +
    `dtype ${values.dtype}, same memory as the frame: ${values.data.buffer === heap.buffer}`,
);
values.set([0, 0], -1); // a write through the 2-D array is a write to the frame...
console.log(`values.set([0, 0], -1) -> df.get(0, 'col1') = ${df.get(0, 'col1')}`);
console.log(
  `...and the worker reads it too: ${await ask({ op: 'get', name: 'df', row: 0, column: 'col1' })}`,
);
values.close();

// ---- 2. Mixed dtypes: ints, floats, fixed-width strings, dates, booleans
const mixed = SharedFrame.from(
  {
    id: [1, 2, 3, 4],
    price: [9.5, 12.25, NaN, null], // NaN is a value; null is a null (stored as NaN too)
    ticker: ['AAA', 'BBB', 'CCC', 'DDD'],
    listed: [new Date('2020-01-02'), new Date('2021-06-30'), null, new Date('2024-02-28')],
    active: [true, false, true, true],
  },
  { schema: { id: 'i4', price: 'f8', ticker: 'S8', listed: 'M8[D]', active: 'bool' } },
);
console.log('\nMixed-dtype frame:');
console.log(mixed.toString());

// The worker edits every column in place: ids +100, prices x2, tickers renamed, dates +1 day,
// flags flipped, and one null filled in.
await ask({ op: 'edit', name: 'mixed', handle: mixed.handle });
// This thread edits too: a price set, a date set to null.
mixed.set(1, 'price', 100);
mixed.setNull(0, 'listed');

const seenMixed = await ask({ op: 'show', name: 'mixed' });
console.log(
  'After the worker edited every column and the main thread set two cells, the worker sees:',
);
console.log(seenMixed);
console.log(`the main thread sees the same frame: ${seenMixed === mixed.toString()}`);

// values() never copies silently: mixed dtypes are an error that says why.
try {
  mixed.values();
} catch (err) {
  console.log(`\nmixed.values() -> ${err.code}: ${err.message.split('\n')[0]}`);
}

// ---- Clean up: each thread closes its own references; the last close frees the memory.
await ask({ op: 'exit' });
await exited;
df.close();
mixed.close();
const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `\nheap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
