// Hand a SharedArray to a worker and get a reply (the worker attaches, reads one element, closes,
// replies), at 40 MiB, 400 MiB and 4 GiB (when memory allows; not in --quick), against, in the
// same run: an empty postMessage round trip, structured clone of the same Float64Array, and
// transferring its ArrayBuffer there and back.
// Targets (DESIGN.md): flat in size; within 2x of an empty message; >= 1000x faster than
// structured clone at 400 MB.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Heap, SharedArray } from 'shmframe';
import {
  GiB,
  MiB,
  availableMemory,
  gc,
  mapStat,
  measure,
  measureInterleaved,
  runCase,
} from '../lib.js';

const kWorker = new URL('../workers/echo.js', import.meta.url);

function label(bytes) {
  return bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`;
}

await runCase('array-handoff', async ({ quick, repeats, result, log }) => {
  const worker = new Worker(kWorker);
  await once(worker, 'online');
  let pending;
  let failure;
  worker.on('message', (m) => pending.resolve(m));
  worker.on('error', (err) => {
    failure = err;
    pending?.reject(err);
  });
  const roundTrip = (msg, transfer) =>
    new Promise((resolve, reject) => {
      if (failure) throw failure;
      pending = { resolve, reject };
      worker.postMessage(msg, transfer);
    });

  const fastRepeats = repeats ?? (quick ? 5 : 15);
  const inner = quick ? 200 : 500;
  // --quick is a smoke run: small sizes, so that the structured clones take milliseconds.
  const sizes = quick ? [4 * MiB, 40 * MiB] : [40 * MiB, 400 * MiB];
  if (quick) {
    result.skip('400 MiB and 4 GiB hand-offs: not in --quick (4 MiB and 40 MiB instead)');
  } else {
    const need = 4 * GiB + 3 * GiB;
    const avail = availableMemory();
    if (avail >= need) sizes.push(4 * GiB);
    else
      result.skip(
        `4 GiB hand-off: needs ${(need / GiB).toFixed(0)} GiB available, ${(avail / GiB).toFixed(1)} GiB are`,
      );
  }

  // Round trips are timed in batches; the batches of each method take turns (measureInterleaved),
  // so that load from other work on the machine shifts all of them alike.
  const batch = (count, one) => async () => {
    for (let k = 0; k < count; k++) await one();
  };
  const perCall = (stat, count) => mapStat(stat, (ms) => ms / count);

  const handoffs = new Map();
  for (const bytes of sizes) {
    const n = bytes / 8;
    const name = label(bytes);
    // The allocator serves a request from a free block of the next size class up (up to 1/16
    // larger than asked), so a heap needs that much room beyond the array (reserved, not touched).
    const heap = Heap.create({ size: bytes + bytes / 8 + 64 * MiB });
    const a = SharedArray.empty([n], 'f8', { heap });
    a.data.fill(1.5); // touch every page: the memory is real, not a reservation
    // The alternatives use a plain Float64Array of the same size and contents. At 4 GiB it is
    // left untouched (zero pages): structured clone refuses it before reading, and transfer
    // never reads it, so filling it would only cost memory.
    const plain = new Float64Array(n);
    if (bytes < 4 * GiB) plain.fill(1.5);
    else plain[0] = 1.5;
    let buffer = plain.buffer;
    // A large transfer costs milliseconds (the receiving isolate accounts the buffer as external
    // memory and collects garbage): fewer per batch.
    const transferInner = bytes >= 400 * MiB ? 10 : inner;
    const fast = await measureInterleaved(
      {
        handoff: batch(inner, async () => {
          const v = await roundTrip({ k: 'handle', h: a.handle });
          if (v !== 1.5) throw new Error(`worker read ${v} from the shared array, expected 1.5`);
        }),
        empty: batch(inner, () => roundTrip({ k: 'empty' })),
        transfer: batch(transferInner, async () => {
          const r = await roundTrip({ k: 'transfer', b: buffer }, [buffer]);
          if (r.v !== 1.5) throw new Error(`worker read ${r.v} from the transfer, expected 1.5`);
          buffer = r.b;
        }),
      },
      { warmup: Math.ceil(3000 / inner), repeats: fastRepeats },
    );
    a.close();
    const source = new Float64Array(buffer); // plain's buffer came back from the worker
    const handoff = perCall(fast.handoff, inner);
    const empty = perCall(fast.empty, inner);
    const transfer = perCall(fast.transfer, transferInner);
    handoffs.set(bytes, handoff);
    log(
      `${name}: hand-off ${(handoff.median * 1000).toFixed(1)} µs, empty message ${(empty.median * 1000).toFixed(1)} µs, transfer there and back ${(transfer.median * 1000).toFixed(1)} µs`,
    );

    result.add({
      id: `handoff-${name}-vs-empty`,
      what: `hand ${name} f8 to a worker and back, vs an empty message`,
      unit: 'ms',
      shmframe: handoff,
      alternative: { name: 'empty postMessage', stat: empty },
      target: { text: 'within 2x (>= 0.5x)', min: 0.5 },
    });

    let clone;
    let cloneError;
    if (bytes >= 4 * GiB && availableMemory() < 2 * bytes + 2 * GiB) {
      cloneError = 'not attempted: a clone needs 2x the array in free memory';
    } else {
      try {
        const cloneRepeats = repeats ?? (quick ? 2 : bytes >= 400 * MiB ? 5 : 7);
        clone = await measure(
          async () => {
            const v = await roundTrip({ k: 'clone', a: source });
            if (v !== 1.5) throw new Error(`worker read ${v} from the clone, expected 1.5`);
          },
          { warmup: 1, repeats: cloneRepeats, inner: 1, before: gc },
        );
        log(`${name} structured clone: ${clone.median.toFixed(1)} ms`);
      } catch (err) {
        if (err?.name !== 'DataCloneError' || bytes < 4 * GiB) throw err;
        cloneError = `throws ${err.name} (${err.message})`;
        log(`${name} structured clone: ${cloneError}`);
      }
    }
    result.add({
      id: `handoff-${name}-vs-clone`,
      what: `hand ${name} f8 to a worker and back, vs structured clone`,
      unit: 'ms',
      shmframe: handoff,
      alternative: { name: 'structured clone', stat: clone, error: cloneError },
      target:
        bytes === 400 * MiB
          ? { text: '>= 1000x', min: 1000 }
          : cloneError
            ? { text: 'clone impossible', met: true }
            : null,
    });

    result.add({
      id: `handoff-${name}-vs-transfer`,
      what: `hand ${name} f8 to a worker and back, vs transferring the ArrayBuffer there and back`,
      unit: 'ms',
      shmframe: handoff,
      alternative: { name: 'transfer', stat: transfer },
    });
    buffer = undefined;
    gc();
  }

  const base = handoffs.get(sizes[0]);
  for (const [bytes, stat] of handoffs) {
    if (bytes === sizes[0]) continue;
    result.add({
      id: `handoff-flat-${label(bytes)}`,
      what: `flat in size: ${label(bytes)} hand-off vs the ${label(sizes[0])} one`,
      unit: 'ms',
      shmframe: stat,
      alternative: { name: `${label(sizes[0])} hand-off`, stat: base },
      target: { text: 'within 2x (>= 0.5x)', min: 0.5 },
    });
  }
  result.note(
    `hand-off: handle posted, worker attaches, reads a[0], closes, replies; median of ${fastRepeats} samples of ${inner} round trips each, taking turns with the empty message and the transfer`,
  );
  await worker.terminate();
});
