// Seed 001: share a frame holding strings and NaN/nulls with workers, let the workers WRITE to
// it (in place and by appending), and keep using it in the parent afterwards.
// Run: node examples/001-workers-write-strings/index.js
import { Heap, Pool, SharedFrame } from 'shmframe';

const heap = Heap.default();
const start = heap.stats();

// The seed's frame: two string columns and two float columns with a missing value. No numpy
// structured array, no dtype juggling, no float64 downcast, no `|S<max length>` guess: strings
// stay strings. `capacity` leaves room for the rows the workers will append.
const df = SharedFrame.from(
  {
    w1: ['obstacle', 'obstacles'],
    w2: ['obstacle', 'obstacle'],
    d1: [2, 2],
    d2: [3, null], // pandas' NaN-as-missing is a null here (a NaN you write stays a value)
    tag: ['', ''],
  },
  { schema: { w1: 'utf8', w2: 'category', d1: 'f4', d2: 'f4', tag: 'S12' }, capacity: 1000 },
);
console.log('The shared frame:');
console.log(df.toString());

// Which string columns can be written in place (the seed's "write to the DataFrame")?
try {
  df.set(0, 'w1', 'rock');
} catch (err) {
  console.log(`df.set(0, 'w1', ...) -> ${err.code}: utf8 strings are append-only`);
}
df.set(0, 'w2', 'rock'); // category: in place (a new label joins the dictionary)
df.set(0, 'tag', 'edited'); // |S12: in place, NUL-padded like numpy's |S12
console.log(
  `category and |S<n> cells are written in place: w2=${df.get(0, 'w2')} tag=${df.get(0, 'tag')}`,
);

const pool = new Pool({ module: new URL('./tasks.js', import.meta.url), workers: 2 });

// A worker writes in place...
const filled = await pool.run('fillMissing', { df });
console.log(`\na worker filled ${filled} missing d2 value(s) in place: d2[1] = ${df.get(1, 'd2')}`);

// ...and both workers append at once (4 batches of 50 rows on 2 workers).
const batches = [1, 2, 3, 4].map((batch) => ({ df, batch, n: 50 }));
const firstRows = await pool.map('appendRows', batches);
console.log(
  `the workers appended 4 x 50 rows at rows ${firstRows.join(', ')}: length ${df.length}`,
);
await pool.close();

// ---- The parent keeps using the frame: no reconstruction, no copy.
df.append({ w1: 'parent row', w2: 'obstacle', d1: -1, d2: null, tag: 'parent' });
let nulls = 0;
let sum = 0;
for (let i = 0; i < df.length; i++) {
  if (df.isNull(i, 'd2')) nulls++;
  else sum += df.get(i, 'd2');
}
const byWorker = {};
for (const t of df.col('tag')) byWorker[t] = (byWorker[t] ?? 0) + 1;
console.log(`\n${df.length} rows; d2: ${nulls} nulls, sum of the others ${sum.toFixed(2)}`);
console.log(`w2 categories: ${df.col('w2').categories.join(', ')}`);
console.log(`rows by writer (tag): ${JSON.stringify(byWorker)}`);
console.log('head and tail:');
console.log(df.toString({ maxRows: 8 }));

// The two f4 columns are one zero-copy 2-D array (NaN where d2 is null).
const numbers = df.select(['d1', 'd2']);
const values = numbers.values();
console.log(
  `values(): shape [${values.shape}], row 1 = [${values.get(1, 0)}, ${values.get(1, 1)}]`,
);
values.close();
numbers.close();

df.close(); // the last reference: the frame's memory is freed
const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `\nheap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
