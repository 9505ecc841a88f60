// Hand an array to a child process and back. shmframe: the string handle of a SharedArray in a
// process heap travels over the IPC channel, the child attaches it, reads a[0] and replies with
// the string handle of the same array; the parent attaches that. Against, in the same run:
// child_process IPC with serialization 'advanced' (the array is copied there and back), an empty
// IPC round trip, and the Python seeds' SharedMemory + Queue hand-off (name, shape, dtype).
// Targets (issue 12): flat in size; >= 1000x the IPC copy at 400 MB; ahead of Python's round trip.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { Heap, SharedArray } from 'shmframe';
import {
  MiB,
  detectPython,
  gc,
  mapStat,
  measure,
  measureInterleaved,
  runCase,
  runPython,
  summarize,
} from '../lib.js';

const kChild = new URL('../workers/process-echo.js', import.meta.url);
const label = (bytes) => `${bytes / MiB} MiB`;

await runCase('process-handoff', async ({ quick, repeats, result, log }) => {
  const child = fork(kChild, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await once(child, 'message');
  let pending;
  child.on('message', (m) => pending?.(m));
  const roundTrip = (msg) =>
    new Promise((resolve) => {
      pending = resolve;
      child.send(msg);
    });
  const sizes = quick ? [4 * MiB, 40 * MiB] : [4 * MiB, 40 * MiB, 400 * MiB];
  if (quick) result.skip('400 MiB: not in --quick');
  const inner = quick ? 100 : 300;
  const fastRepeats = repeats ?? (quick ? 3 : 9);
  const batch = (count, one) => async () => {
    for (let k = 0; k < count; k++) await one();
  };
  const perCall = (stat, count) => mapStat(stat, (ms) => ms / count);
  const handoffs = new Map();
  const heap = Heap.create({ size: 450 * MiB + 64 * MiB, shared: 'process' });
  const py = detectPython(['numpy']);
  let pyResult;
  if (py.ok) {
    const r = await runPython('process_handoff.py', [
      '--sizes',
      sizes.join(','),
      '--repeats',
      fastRepeats,
      '--inner',
      quick ? 50 : 200,
    ]);
    pyResult = r.result;
  } else result.skip(`Python seed hand-off: ${py.reason}`);

  for (const bytes of sizes) {
    const name = label(bytes);
    const a = SharedArray.empty([bytes / 8], 'f8', { heap });
    a.data.fill(1.5);
    const plain = new Float64Array(bytes / 8).fill(1.5);
    const fast = await measureInterleaved(
      {
        handoff: batch(inner, async () => {
          const r = await roundTrip({ k: 'handle', h: String(a.handle) });
          if (r.v !== 1.5) throw new Error(`child read ${r.v}`);
          const back = SharedArray.attach(r.h);
          if (back.data[0] !== 1.5) throw new Error('bad');
          back.close();
        }),
        empty: batch(inner, () => roundTrip({ k: 'empty' })),
      },
      { warmup: 2, repeats: fastRepeats },
    );
    const handoff = perCall(fast.handoff, inner);
    const empty = perCall(fast.empty, inner);
    handoffs.set(bytes, handoff);
    const clone = await measure(
      async () => {
        const r = await roundTrip({ k: 'clone', a: plain });
        if (r.v !== 1.5 || r.a.length !== plain.length) throw new Error('clone round trip');
      },
      {
        warmup: 1,
        repeats: repeats ?? (quick ? 2 : bytes >= 400 * MiB ? 3 : 5),
        inner: 1,
        before: gc,
      },
    );
    log(
      `${name}: hand-off ${(handoff.median * 1000).toFixed(1)} µs, empty IPC ${(empty.median * 1000).toFixed(1)} µs, IPC copy ${clone.median.toFixed(1)} ms`,
    );
    result.add({
      id: `process-handoff-${name}-vs-ipc`,
      what: `hand ${name} f8 to a child process and back, vs child_process IPC (advanced serialization)`,
      unit: 'ms',
      shmframe: handoff,
      alternative: { name: 'IPC copy', stat: clone },
      target: bytes === 400 * MiB ? { text: '>= 1000x', min: 1000 } : null,
    });
    result.add({
      id: `process-handoff-${name}-vs-empty`,
      what: `hand ${name} f8 to a child process and back, vs an empty IPC round trip`,
      unit: 'ms',
      shmframe: handoff,
      alternative: { name: 'empty IPC message', stat: empty },
    });
    if (pyResult) {
      const s = pyResult.sizes[String(bytes)];
      result.add({
        id: `process-handoff-${name}-vs-python`,
        what: `hand ${name} f8 to a child process and back, vs Python SharedMemory + Queue (name, shape, dtype)`,
        unit: 'ms',
        shmframe: handoff,
        alternative: { name: `Python ${pyResult.python} seed`, stat: summarize(s.handoff_ms) },
        target: { text: 'ahead (> 1x)', min: 1 },
      });
    }
    a.close();
    gc();
  }
  const base = handoffs.get(sizes[0]);
  for (const [bytes, stat] of handoffs) {
    if (bytes === sizes[0]) continue;
    result.add({
      id: `process-handoff-flat-${label(bytes)}`,
      what: `flat in size: ${label(bytes)} process hand-off vs the ${label(sizes[0])} one`,
      unit: 'ms',
      shmframe: stat,
      alternative: { name: `${label(sizes[0])} hand-off`, stat: base },
      target: { text: 'within 2x (>= 0.5x)', min: 0.5 },
    });
  }
  result.note(
    'hand-off: String(handle) over the IPC channel, the child attaches, reads a[0], replies with String(handle) of the same array, the parent attaches and reads it',
  );
  child.send({ k: 'exit' });
  await once(child, 'exit');
});
