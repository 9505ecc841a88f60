#!/usr/bin/env node
// Overwrites one word of heap metadata per run (block headers, free blocks, tickets, thread-table
// entries, control words, lock words, ledger headers; seeded, so a failing seed replays) and runs
// a mixed allocate / attach / free sequence on the damaged heap. Counts the runs that threw an
// uncoded error, changed a live array or handed out overlapping memory, returned non-zero
// zeros(), or hung (a run has `deadline` ms). Usage:
//   node scripts/corrupt-probe.js [runs=5000] [firstSeed=1] [deadlineMs=30000]
// (npm test runs 280 seeds of the same probe in test/property/heap-corruption.test.js.)
import { kKinds, runProbes } from '../test/helpers/corrupt-probe.js';

const runs = Number(process.argv[2] ?? 5000);
const first = Number(process.argv[3] ?? 1);
const deadlineMs = Number(process.argv[4] ?? 30000);
const seeds = Array.from({ length: runs }, (_, i) => first + i);

const byKind = Object.fromEntries(
  kKinds.map((k) => [k, { runs: 0, marked: 0, coded: 0, quiet: 0, failed: 0 }]),
);
const failures = { uncoded: 0, overlap: 0, zeros: 0, hang: 0 };
const codes = {};
const failed = [];
let done = 0;
const t0 = performance.now();

function classify(r) {
  const found = new Set();
  if (r.hang) found.add('hang');
  for (const f of r.failures) {
    if (f.includes('uncoded')) found.add('uncoded');
    else if (f.includes('not zero')) found.add('zeros');
    else if (f.includes('overlaps') || f.includes('changed') || f.includes("another object's"))
      found.add('overlap');
  }
  return found;
}

await runProbes(seeds, {
  deadlineMs,
  onResult: (r) => {
    done++;
    const k = byKind[r.kind];
    k.runs++;
    const coded = Object.values(r.codes ?? {}).reduce((a, b) => a + b, 0);
    for (const [c, n] of Object.entries(r.codes ?? {})) codes[c] = (codes[c] ?? 0) + n;
    if (r.failures.length > 0) {
      k.failed++;
      for (const c of classify(r)) failures[c]++;
      failed.push(r);
      console.log(
        `FAIL seed ${r.seed} (${r.kind}: ${r.what} ${r.old} -> ${r.value}): ${r.failures[0].split('\n')[0]}`,
      );
    } else if (r.corrupt) k.marked++;
    else if (coded > 0) k.coded++;
    else k.quiet++;
    if (done % 500 === 0) console.log(`${done} runs, ${failed.length} failed`);
  },
});

const s = ((performance.now() - t0) / 1000).toFixed(0);
console.log(
  `\n${done} runs in ${s} s (seeds ${first}..${first + runs - 1}, deadline ${deadlineMs} ms)`,
);
console.log('kind      runs  marked corrupt  coded errors only  no visible effect  failed');
for (const [kind, k] of Object.entries(byKind)) {
  console.log(
    `${kind.padEnd(8)} ${String(k.runs).padStart(5)} ${String(k.marked).padStart(15)} ${String(k.coded).padStart(18)} ${String(k.quiet).padStart(18)} ${String(k.failed).padStart(7)}`,
  );
}
console.log(
  `failed runs: ${failed.length} (uncoded errors ${failures.uncoded}, changed/overlapping live data ${failures.overlap}, zeros() not zero ${failures.zeros}, hangs ${failures.hang})`,
);
console.log(
  `coded errors seen: ${Object.entries(codes)
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c} ${n}`)
    .join(', ')}`,
);
process.exitCode = failed.length === 0 ? 0 : 1;
