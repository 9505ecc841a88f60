#!/usr/bin/env node
// Kills churning child processes with SIGKILL at random moments, many times over, and checks
// after each round that the process heap came back exactly (objects, bytes, handles, allocator
// invariants, frame rows whole). Prints a summary; exits 1 on the first leak or inconsistency.
//
// Usage: node scripts/stress-process-kill.js [kills=300] [children per round=2] [max ms before the kill=80]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Heap, SharedArray, SharedFrame, SharedQueue } from '../dist/index.js';
import { kCore } from '../dist/heap/heap.js';

const kills = Number(process.argv[2] ?? 300);
const per = Number(process.argv[3] ?? 2);
const maxDelay = Number(process.argv[4] ?? 80);
const churn = fileURLToPath(new URL('../test/fixtures/process-churn.js', import.meta.url));
const heap = Heap.create({ size: '512M', shared: 'process' });
const q = SharedQueue.create({ capacity: 32, heap });
const f = SharedFrame.create({ x: 'f8', s: 'utf8' }, { capacity: 4_000_000, heap });
const a = SharedArray.full([16], 5, 'f8', { heap });
const base = heap.stats();
const started = Date.now();
let done = 0;
let round = 0;
const fail = (msg) => {
  console.error(`FAIL after ${done} kills: ${msg}`);
  process.exit(1);
};
while (done < kills) {
  round++;
  const kids = Array.from({ length: per }, (_, j) => {
    const c = spawn(
      process.execPath,
      [churn, String(q.handle), String(f.handle), String(a.handle), String(round * 31 + j)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    return { c, ready: once(c.stdout, 'data'), exit: once(c, 'exit') };
  });
  const repairsBefore = heap.stats().repairs;
  await Promise.all(kids.map((k) => k.ready));
  await new Promise((r) => setTimeout(r, 2 + Math.floor(Math.random() * maxDelay)));
  for (const k of kids) k.c.kill('SIGKILL');
  await Promise.all(kids.map((k) => k.exit));
  done += per;
  heap.releaseDead();
  const procs = heap.processes();
  if (procs.length !== 1) fail(`${procs.length} processes still recorded`);
  for (let x = q.tryGet(); x !== undefined; x = q.tryGet()) if (typeof x === 'object') x.a.close();
  const s = heap.stats();
  if (s.objects !== base.objects || s.handles !== base.handles || s.used !== base.used) {
    // Say what is left, for whoever reproduces it: every allocated block, its kind and count.
    const core = heap[kCore];
    core.alloc.walk((unit, size, magic, kind) => {
      if (magic === 0x4b4c4253 || magic >>> 0 === 0x4b4c4253)
        console.error(
          `allocated block ${unit}: ${size} units, kind ${kind}, refs ${core.w.load(unit * 16 + 3)}, payload ${core.w.get(unit * 16 + 6)} bytes`,
        );
    });
    console.error(
      `allocator repairs so far: ${s.repairs} (this round: ${s.repairs - repairsBefore})`,
    );
    fail(
      `heap not back: objects ${s.objects}/${base.objects}, handles ${s.handles}/${base.handles}, used ${s.used}/${base.used}`,
    );
  }
  const problems = heap[kCore].alloc.verify();
  if (problems.length > 0) fail(`allocator: ${problems.join('; ')}`);
  for (let r = 0; r < f.length; r++) {
    if (f.isNull(r, 'x') && f.isNull(r, 's')) continue; // reserved by a killed appender: null row
    if (f.get(r, 's') !== `row ${f.get(r, 'x')}`)
      fail(`frame row ${r} torn: x=${f.get(r, 'x')}, s=${JSON.stringify(f.get(r, 's'))}`);
  }
  if (f.length > f.capacity - 100_000) fail('frame nearly full: run fewer kills per heap');
}
const s = heap.stats();
console.log(
  `${done} kills in ${((Date.now() - started) / 1000).toFixed(0)} s: heap back exactly after every round ` +
    `(${s.objects} objects, ${s.handles} handles), ${s.repairs} allocator repairs after a kill inside the allocator lock, ` +
    `${f.length} whole frame rows`,
);
for (const o of [q, f, a]) o[Symbol.dispose]();
