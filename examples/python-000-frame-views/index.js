// Seed 000 across languages: Node builds a frame of several dtypes in a named heap; a Python
// process views it as a pandas DataFrame whose columns are views of the heap and runs the seed's
// `df.loc[:, 'col1'] *= 2`; Node and a second Python process see the write, and Node sees the
// second process's write too. The seed could share one float column only (pandas copied a
// structured array); here every column is shared, and nothing is pickled or copied.
// Run: node examples/python-000-frame-views/index.js
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Heap, SharedFrame } from 'shmframe';

const here = fileURLToPath(new URL('.', import.meta.url));
const python = process.env.SHMFRAME_PYTHON || '/usr/bin/python3';
const env = { ...process.env, PYTHONPATH: fileURLToPath(new URL('../../python', import.meta.url)) };

const heap = Heap.create({ size: '64M', name: `example-python-000-${process.pid}` });
const start = heap.stats();
const n = 10;
const frame = SharedFrame.from(
  {
    col1: Float64Array.from({ length: n }, (_, i) => i),
    col2: Float64Array.from({ length: n }, (_, i) => i),
    n: Int32Array.from({ length: n }, (_, i) => i),
    flag: Array.from({ length: n }, (_, i) => i % 2 === 0),
    when: Array.from({ length: n }, (_, i) => new Date(Date.UTC(2024, 0, 1 + i))),
    label: Array.from({ length: n }, (_, i) => `row-${i}`),
  },
  { heap, schema: { when: 'M8[ns]' } },
);
heap.publish('seed000', frame);

function runPython(role) {
  const r = spawnSync(python, [`${here}view.py`, heap.name, role], { encoding: 'utf8', env });
  if (r.error || r.status !== 0) {
    console.log(
      `python ${role} could not run (${r.error?.message ?? r.stderr.trim().split('\n').pop()}): needs numpy and pandas`,
    );
    return false;
  }
  process.stdout.write(r.stdout);
  return true;
}

if (runPython('writer')) {
  console.log(`node sees col1 = [${[...frame.col('col1')].join(', ')}]`);
  console.log(`node sees n = [${[...frame.col('n')].join(', ')}]`);
  runPython('reader');
  console.log(`node sees col2 = [${[...frame.col('col2')].join(', ')}]`);
}

heap.unpublish('seed000');
frame.close();
const end = heap.stats();
const clean =
  end.objects === start.objects && end.used === start.used && end.handles === start.handles;
console.log(
  `\nheap: ${end.objects} objects, ${end.used} bytes used, ${end.handles} handles pending: ` +
    (clean ? 'back to where it began' : 'LEAKED'),
);
if (!clean) process.exitCode = 1;
