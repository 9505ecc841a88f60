// Property: a heap whose metadata has one word overwritten (block header fields, free-block
// links and sizes, tickets, thread-table entries, control words, lock words, ledger headers,
// owner words of locks, queues and frames) never throws an uncoded error, never hands out memory
// that overlaps a live array or changes its bytes, never returns non-zero zeros(), and never
// hangs: a mixed allocate / attach / free / queue / lock / append sequence runs on it, each run
// time-boxed in a worker. The probe itself is test/helpers/corrupt-probe.js; a longer run is
// `node scripts/corrupt-probe.js 5000`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kKinds, runProbes } from '../helpers/corrupt-probe.js';

const kRuns = 240; // 30 per kind: the seed picks the kind (seed mod 8)

test(`${kRuns} seeded runs, one damaged metadata word each: only coded errors, no overlap, no hang`, async (t) => {
  const seeds = Array.from({ length: kRuns }, (_, i) => i + 1);
  const results = await runProbes(seeds, { deadlineMs: 30000 });
  assert.equal(results.length, kRuns);
  const failed = results.filter((r) => r.failures.length > 0);
  const tally = Object.fromEntries(kKinds.map((k) => [k, { runs: 0, marked: 0 }]));
  let corruptErrors = 0;
  for (const r of results) {
    tally[r.kind].runs++;
    if (r.corrupt) tally[r.kind].marked++;
    corruptErrors += r.codes?.SHMFRAME_ERR_CORRUPT ?? 0;
  }
  t.diagnostic(
    Object.entries(tally)
      .map(([k, v]) => `${k}: ${v.marked}/${v.runs} marked corrupt`)
      .join(', '),
  );
  assert.deepEqual(
    failed.map(
      (r) => `seed ${r.seed} (${r.kind}: ${r.what} ${r.old} -> ${r.value}): ${r.failures[0]}`,
    ),
    [],
  );
  // The damage was real: the checks caught it (a probe whose writes changed nothing would pass
  // the assertions above without testing anything).
  assert.ok(
    tally.free.marked >= kRuns / 8 / 2,
    `free-block damage detected in ${tally.free.marked} runs`,
  );
  assert.ok(tally.header.marked > 0 && tally.control.marked > 0);
  assert.ok(corruptErrors > 0);
});
