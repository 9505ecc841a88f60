// The seeded heap-corruption probe, shared by test/property/heap-corruption.test.js and
// scripts/corrupt-probe.js. One run (one seed): a small heap with live arrays holding known
// byte patterns, free blocks, views, outstanding handles and (in the thread-table and ledger runs, and every tenth other) a helper
// thread that was terminated holding references; then ONE metadata word of one kind is
// overwritten (block header, free block, ticket, thread-table entry, control word, lock word,
// ledger header, an owner word of a SharedLock, SharedQueue or SharedFrame), and a mixed sequence of allocate / zeros / view / attach / handle / close /
// releaseThread / stats / verify runs on the damaged heap. A run fails if anything throws an
// error that is not a ShmframeError, if a live array's bytes change, if a new block overlaps a
// live one, or if zeros() returns non-zero bytes. Hangs are caught by the driver's deadline.
import { once } from 'node:events';
import { threadId, Worker } from 'node:worker_threads';
import { Heap, SharedArray, SharedFrame, SharedLock, SharedQueue, ShmframeError } from 'shmframe';
import { kCore } from '../../dist/heap/heap.js';
import * as L from '../../dist/heap/layout.js';
import * as F from '../../dist/frame/layout.js';

export const kKinds = ['header', 'free', 'ticket', 'thread', 'control', 'lock', 'ledger', 'sync'];

const kHelper = new URL('../fixtures/corrupt-probe-helper.js', import.meta.url);

/** mulberry32: a small seeded generator, so a failing seed replays exactly. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
  };
}

const pattern = (id, i) => (id * 167 + i * 31 + 7) & 255;

function fill(bytes, id) {
  for (let i = 0; i < bytes.length; i++) bytes[i] = pattern(id, i);
}

function intact(bytes, id) {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== pattern(id, i)) return i;
  return -1;
}

/** Every block of the heap, read without the allocator (the probe must not trust it). */
function blocks(core) {
  const w = core.w;
  const out = [];
  for (let u = core.dataStart; u < core.end;) {
    const size = w.getU(u * L.kWordsPerUnit + L.B_SIZE);
    if (size < 1 || u + size > core.end) break;
    const magic = w.get(u * L.kWordsPerUnit + L.B_MAGIC);
    const kind = w.get(u * L.kWordsPerUnit + L.B_VERKIND) >>> 16;
    out.push({ unit: u, size, magic, kind });
    u += size;
  }
  return out;
}

/** The thread table, read from the control words (as any other reader of the heap would). */
function table(core) {
  const w = core.w;
  return { start: L.H_TABLES + w.get(L.H_TICKET_CAP) * L.kTicketWords, cap: w.get(L.H_THREAD_CAP) };
}

function entryOf(core, tid) {
  const w = core.w;
  const { start, cap } = table(core);
  for (let i = 0; i < cap; i++) {
    const at = start + i * L.kThreadWords;
    if (w.load(at + L.T_STATE) !== L.kThreadFree && w.load(at + L.T_THREAD) === tid) return at;
  }
  return -1;
}

const kBlockFields = [
  'MAGIC',
  'VERKIND',
  'GEN',
  'REFS',
  'SIZE',
  'PREV',
  'LEN_LO',
  'LEN_HI',
  'CHECK',
  'NEXT_FREE',
  'PREV_FREE',
];
const kFreeFields = ['MAGIC', 'GEN', 'SIZE', 'PREV', 'CHECK', 'NEXT_FREE', 'PREV_FREE'];
const kThreadFields = [
  'STATE',
  'THREAD',
  'LEDGER',
  'PEND_OP',
  'PEND_UNIT',
  'PEND_GEN',
  'PEND_COUNT',
  'PEND_PHASE',
  'LEDGER_NEXT',
  'LEDGER_OLD',
  'PEND_AUX',
  'PEND_CHECK',
];

/**
 * Chooses the word to overwrite and its new value. Values are both wild (random, bit flips)
 * and plausible (another block's unit or size, +-1, this thread's lock value), because the
 * plausible ones are the ones a weak check lets through.
 */
function chooseTarget(r, kind, core, ctx) {
  const w = core.w;
  const all = blocks(core);
  const units = all.map((b) => b.unit);
  const sizes = all.map((b) => b.size);
  let index;
  let what;
  let lockWord = false;
  switch (kind) {
    case 'header': {
      const used = all.filter((b) => b.magic === L.kAllocMagic && b.kind < L.kInternalKind);
      const b = r.next() < 0.1 || used.length === 0 ? { unit: core.end } : r.pick(used);
      const f = r.int(kBlockFields.length);
      index = b.unit * L.kWordsPerUnit + f;
      what = `${b.unit === core.end ? 'sentinel' : 'block'} ${b.unit} ${kBlockFields[f]}`;
      break;
    }
    case 'free': {
      const free = all.filter((b) => b.magic === L.kFreeMagic);
      const b = r.pick(free);
      const name = r.pick(kFreeFields);
      index = b.unit * L.kWordsPerUnit + L[`B_${name}`];
      what = `free block ${b.unit} ${name}`;
      break;
    }
    case 'ticket': {
      const slots = ctx.handles.map((h) => h.handle.ticket);
      const slot =
        slots.length > 0 && r.next() < 0.8 ? r.pick(slots) : r.int(w.get(L.H_TICKET_CAP));
      const k = r.int(2);
      index = L.H_TABLES + slot * L.kTicketWords + k;
      what = `ticket ${slot} ${k === 0 ? 'serial' : 'unit'}`;
      break;
    }
    case 'thread': {
      const tids = [threadId, ...(ctx.helper ? [ctx.helper.tid] : [])];
      const tid = r.pick(tids);
      const k = r.int(L.kThreadWords);
      index = entryOf(core, tid) + k;
      what = `thread-table entry of ${tid === threadId ? 'this thread' : 'the dead helper'} T_${kThreadFields[k]}`;
      break;
    }
    case 'control': {
      const choices = [];
      for (let i = 0; i <= 27; i++) if (i !== L.H_LOCK && i !== L.H_LOCK_WAITERS) choices.push(i);
      for (let i = 0; i < L.kFirstLevels; i++)
        if (w.get(L.H_SL_BITMAPS + i) !== 0) choices.push(L.H_SL_BITMAPS + i);
      for (let i = 0; i < L.kFirstLevels * L.kSecondLevels; i++)
        if (w.get(L.H_HEADS + i) !== 0) choices.push(L.H_HEADS + i, L.H_HEADS + i);
      index = r.pick(choices);
      what =
        index >= L.H_HEADS
          ? `free-list head of class ${index - L.H_HEADS}`
          : index >= L.H_SL_BITMAPS
            ? `second-level bitmap ${index - L.H_SL_BITMAPS}`
            : `control word ${index}`;
      break;
    }
    case 'lock': {
      index = r.next() < 0.8 ? L.H_LOCK : L.H_LOCK_WAITERS;
      lockWord = index === L.H_LOCK;
      what = index === L.H_LOCK ? 'allocator lock word' : 'allocator lock waiter count';
      break;
    }
    case 'ledger': {
      const tids = [threadId, ...(ctx.helper ? [ctx.helper.tid] : [])];
      const tid = r.pick(tids);
      const unit = w.load(entryOf(core, tid) + L.T_LEDGER) >>> 0;
      const k = r.int(4);
      index = (unit + 1) * L.kWordsPerUnit + k;
      what = `ledger header word ${['CAP', 'USED', 'LIVE', 'OWNER'][k]} of ${tid === threadId ? 'this thread' : 'the dead helper'}`;
      break;
    }
    case 'sync': {
      // Owner words of the shared objects: SharedLock OWNER, the queue's producer and consumer
      // mutexes, a frame's append lock, a reservation's owner, a dictionary's lock.
      const payload = (o) => (o.handle.unit + 1) * 16; // word index of a block's payload
      const frame = payload(ctx.sync.frame);
      const words = [
        [payload(ctx.sync.lock) + 18, 'SharedLock OWNER'],
        [payload(ctx.sync.queue) + 17, 'SharedQueue producer mutex'],
        [payload(ctx.sync.queue) + 33, 'SharedQueue consumer mutex'],
        [frame + F.F_LOCK, 'SharedFrame append lock'],
        [frame + F.F_RESERVATIONS + F.R_OWNER, 'SharedFrame reservation owner'],
        [frame + (F.kHeaderWords * 4 + 128) / 4 + F.C_DICT_LOCK, 'SharedFrame dictionary lock'],
      ];
      [index, what] = r.pick(words);
      lockWord = true;
      for (const o of Object.values(ctx.sync)) ctx.handles.push({ handle: o.handle, id: -1 });
      break;
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
  const old = w.get(index);
  let value;
  const v = r.int(lockWord ? 10 : 8);
  if (v === 0) value = (r.next() * 2 ** 32) | 0;
  else if (v === 1) value = (old + 1) | 0;
  else if (v === 2) value = (old - 1) | 0;
  else if (v === 3) value = 0;
  else if (v === 4) value = r.pick(units);
  else if (v === 5) value = r.pick(sizes);
  else if (v === 6) value = old ^ (1 << r.int(32));
  else if (v === 7) value = (old + r.pick(sizes)) | 0;
  // Lock words: this thread (a stale word: the lock is not reentrant), or no thread at all. Not
  // the dead helper's id: it is in the thread table until released, so the heap rightly
  // believes it alive and waits kLockStuckMs (tested on its own in heap-corruption.test.js).
  else if (v === 8) value = threadId + 1;
  else value = -1 - r.int(1000);
  return { index, what, old, value };
}

/**
 * One probe run. Returns { seed, kind, what, old, value, codes, failures, corrupt, ops }.
 * `failures` empty means the run passed.
 */
export async function probeRun(seed, { helperEvery = 10, ops = 30, onTarget = () => {} } = {}) {
  const r = rng(seed);
  const kind = kKinds[seed % kKinds.length];
  const heap = Heap.create({ size: '4M' });
  const core = heap[kCore];
  const live = []; // { obj, id, bytes }
  const handles = []; // { handle, id }
  const codes = {};
  const failures = [];
  let nextId = 1;
  let helper;

  const size = () => (r.next() < 0.8 ? 1 + r.int(3000) : 3000 + r.int(60000));
  const add = (obj, id) => {
    live.push({ obj, id, bytes: obj.data });
  };
  const newArray = () => {
    const a = SharedArray.empty([size()], 'u1', { heap });
    const id = nextId++;
    fill(a.data, id);
    add(a, id);
    return a;
  };
  const attempt = async (name, fn) => {
    try {
      return await fn();
    } catch (err) {
      if (ShmframeError.isShmframeError(err)) {
        codes[err.code] = (codes[err.code] ?? 0) + 1;
        return undefined;
      }
      failures.push(`${name}: uncoded ${err?.name}: ${err?.message}\n${err?.stack}`);
      return undefined;
    }
  };
  const checkLive = (after) => {
    for (const e of live) {
      const at = intact(e.bytes, e.id);
      if (at >= 0) failures.push(`after ${after}: live array ${e.id} changed at byte ${at}`);
    }
    if (helper !== undefined && !helper.released) {
      const bytes = new Uint8Array(heap.buffer, helper.own.byteOffset, helper.own.byteLength);
      if (bytes.some((b) => b !== 0xab))
        failures.push(`after ${after}: the dead helper's array changed`);
    }
  };
  const overlaps = (bytes) => {
    const a0 = bytes.byteOffset;
    const a1 = a0 + bytes.byteLength;
    const hit = live.find(
      (e) => e.bytes.byteOffset < a1 && a0 < e.bytes.byteOffset + e.bytes.byteLength,
    );
    const held =
      helper !== undefined &&
      !helper.released &&
      helper.own.byteOffset < a1 &&
      a0 < helper.own.byteOffset + helper.own.byteLength;
    return hit !== undefined || held;
  };

  // ---- a heap with history: live arrays, free blocks in several classes, views, handles
  for (let i = 0; i < 18; i++) newArray();
  for (let i = live.length - 1; i >= 0; i -= 3) live.splice(i, 1)[0].obj.close();
  for (let i = 0; i < 2; i++) {
    const e = r.pick(live);
    add(e.obj.reshape(e.obj.shape), e.id);
  }
  for (let i = 0; i < 4; i++) {
    const e = r.pick(live);
    handles.push({ handle: e.obj.handle, id: e.id });
  }
  if (seed % helperEvery === 0 || kind === 'thread' || kind === 'ledger') {
    const mine = live.filter((e) => !handles.some((h) => h.id === e.id));
    const given = [r.pick(mine), r.pick(mine)].map((e) => ({ handle: e.obj.handle, id: e.id }));
    const worker = new Worker(kHelper, { workerData: { handles: given.map((g) => g.handle) } });
    const [own] = await once(worker, 'message');
    const tid = worker.threadId;
    await worker.terminate(); // terminated holding references: released in the sequence below
    helper = { tid, own, released: false };
  }
  // Shared objects whose owner words the 'sync' kind overwrites; used by every sequence.
  const sync = {
    lock: SharedLock.create({ heap }),
    queue: SharedQueue.create({ capacity: 8, heap }),
    frame: SharedFrame.create({ id: 'i4', city: 'category' }, { capacity: 400, heap }),
  };
  sync.queue.put('a');
  sync.queue.put('b');
  for (let i = 0; i < 3; i++) sync.frame.append({ id: i, city: r.pick(['x', 'y']) });
  checkLive('setup');

  // ---- one word
  const target = chooseTarget(r, kind, core, { handles, helper, sync });
  // (the sync kind read its objects' handles: they are released with the others at the end)
  for (const h of handles) if (h.id === -1) h.sync = true;
  onTarget(target);
  core.w.set(target.index, target.value);

  // ---- a mixed sequence on the damaged heap
  for (let step = 0; step < ops; step++) {
    const op = r.pick([
      'alloc',
      'alloc',
      'zeros',
      'zeros',
      'close',
      'close',
      'close',
      'view',
      'attach',
      'attach',
      'handle',
      'release',
      'stats',
      'verify',
      'put',
      'get',
      'lock',
      'append',
    ]);
    await attempt(op, async () => {
      switch (op) {
        case 'alloc': {
          const a = newArray();
          live.pop();
          if (overlaps(a.data)) failures.push(`alloc at step ${step} overlaps a live block`);
          add(a, nextId - 1);
          break;
        }
        case 'zeros': {
          const a = SharedArray.zeros([size()], 'u1', { heap });
          if (a.data.some((b) => b !== 0)) failures.push(`zeros() at step ${step} is not zero`);
          if (overlaps(a.data)) failures.push(`zeros() at step ${step} overlaps a live block`);
          const id = nextId++;
          fill(a.data, id);
          add(a, id);
          break;
        }
        case 'close': {
          if (live.length === 0) break;
          const [e] = live.splice(r.int(live.length), 1);
          e.obj.close();
          break;
        }
        case 'view': {
          if (live.length === 0) break;
          const e = r.pick(live);
          add(e.obj.reshape(e.obj.shape), e.id);
          break;
        }
        case 'put':
          // Without a timeout: a put that cannot get the producer mutex would hang the run.
          if (sync.queue.size < 6) {
            if (r.next() < 0.5) sync.queue.put(`item ${step}`);
            else await sync.queue.putAsync(`item ${step}`);
          }
          break;
        case 'get':
          if (sync.queue.size > 0) {
            const got = r.next() < 0.5 ? sync.queue.get() : await sync.queue.getAsync();
            if (typeof got !== 'string') failures.push(`queue get at step ${step} returned ${got}`);
          }
          break;
        case 'lock':
          if (r.next() < 0.5) {
            sync.lock.acquire();
            sync.lock.release();
          } else {
            await sync.lock.acquireAsync();
            sync.lock.release();
          }
          break;
        case 'append':
          sync.frame.append({ id: step, city: r.pick(['x', 'y', `new ${step}`]) });
          break;
        case 'attach': {
          const pool = handles.filter((h) => !h.sync);
          if (pool.length === 0) break;
          const h = r.pick(pool);
          handles.splice(handles.indexOf(h), 1);
          const a = SharedArray.attach(h.handle);
          if (intact(a.data, h.id) >= 0)
            failures.push(`attach at step ${step} gave another object's bytes`);
          add(a, h.id);
          break;
        }
        case 'handle': {
          if (live.length === 0) break;
          const e = r.pick(live);
          handles.push({ handle: e.obj.handle, id: e.id });
          break;
        }
        case 'release': {
          if (helper === undefined || helper.released) break;
          helper.released = true;
          heap.releaseThread(helper.tid);
          break;
        }
        case 'stats':
          heap.stats();
          break;
        case 'verify':
          if (!Array.isArray(core.alloc.verify())) failures.push('verify() returned no list');
          break;
      }
    });
    checkLive(`step ${step} (${op})`);
  }
  if (helper !== undefined && !helper.released)
    await attempt('release', () => {
      helper.released = true;
      heap.releaseThread(helper.tid);
    });
  for (const e of live.splice(0)) await attempt('close', () => e.obj.close());
  await attempt('close', () => sync.lock.close());
  await attempt('close', () => sync.queue.detach());
  await attempt('close', () => sync.frame.close());
  for (const h of handles.splice(0))
    await attempt('releaseHandle', () => heap.releaseHandle(h.handle));
  let corrupt = false;
  await attempt('stats', () => {
    corrupt = heap.stats().corrupt === true;
  });
  return {
    seed,
    kind,
    what: target.what,
    old: target.old,
    value: target.value,
    codes,
    failures,
    corrupt,
  };
}

/**
 * Runs `seeds` in a worker, each with a deadline: a run that does not finish in `deadlineMs`
 * counts as a hang (the worker is terminated and a new one continues with the next seed).
 * Resolves to every result; hangs are { seed, hang: true }.
 */
export async function runProbes(seeds, { deadlineMs = 30000, onResult = () => {}, options } = {}) {
  const results = [];
  let rest = seeds.slice();
  while (rest.length > 0) {
    const worker = new Worker(new URL('../fixtures/corrupt-probe-worker.js', import.meta.url), {
      workerData: { seeds: rest, options },
    });
    const done = new Set();
    let hung;
    await new Promise((resolve, reject) => {
      let timer;
      let target;
      const arm = (seed) => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          hung = { seed, target };
          worker.terminate();
        }, deadlineMs);
      };
      worker.on('message', (m) => {
        if (m.type === 'begin') {
          arm(m.seed);
          target = undefined;
        } else if (m.type === 'target') target = m.target;
        else {
          clearTimeout(timer);
          done.add(m.result.seed);
          results.push(m.result);
          onResult(m.result);
        }
      });
      worker.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      worker.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (hung === undefined) break;
    const h = {
      seed: hung.seed,
      kind: kKinds[hung.seed % kKinds.length],
      ...hung.target,
      hang: true,
      codes: {},
      failures: [`run did not finish within ${deadlineMs} ms`],
    };
    results.push(h);
    onResult(h);
    rest = rest.filter((s) => !done.has(s) && s !== hung.seed);
  }
  return results;
}
