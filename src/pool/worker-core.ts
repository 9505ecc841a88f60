/**
 * The task loop of a pool worker, whatever carries its messages: a worker thread
 * (worker-entry.ts) or a child process (process-entry.ts). It loads the task module, then runs
 * tasks one at a time in the order they came.
 *
 * Tasks arrive in batches; between tasks the worker drains its messages synchronously when the
 * transport can (a thread's `receiveMessageOnPort`), so a cancel for the running task is seen as
 * soon as it yields and a batch costs one event, not one per task. Before starting a task the
 * worker claims it (see claims.ts): a task the pool took back meanwhile (cancelled, or given to
 * an idle worker) is skipped without a word, its handles left to the pool.
 */
import { TaskError, decodeError, encodeError } from '../errors.js';
import type { EncodedError } from '../errors.js';
import type { Handle } from '../heap/handle.js';
import type { Shareable } from '../heap/kinds.js';
import type { TaskClaims } from './claims.js';
import { carryFromError } from './error-carry.js';
import { closeAll, closeShareables, decode, encode, releaseHandles } from './marshal.js';
import {
  kCancel,
  kFail,
  kInitError,
  kOk,
  kReady,
  kRefused,
  kRun,
  kStop,
  kTaskFields,
  kThrew,
} from './protocol.js';
import type { ResultRecord } from './record.js';
import { missingExportError } from './task.js';
import type { TaskContext } from './types.js';

type TaskFn = (args: unknown, ctx: TaskContext) => unknown;

/** What carries a worker's messages, and what it was started with. */
export interface WorkerTransport {
  /** URL of the task module. */
  readonly module: string;
  /** The worker's slot in the pool (ctx.workerId). */
  readonly workerId: number;
  /** ctx.threadId: the worker thread's id (0 in a worker process). */
  readonly threadId: number;
  readonly record: ResultRecord;
  readonly claims: TaskClaims;
  post(message: unknown[]): void;
  /** The next message already received, without waiting; undefined if none (or not supported). */
  receive(): unknown[] | undefined;
  /** Delivers messages as they arrive. */
  listen(onMessage: (m: unknown[]) => void): void;
  /** No more messages: let the worker exit. */
  close(): void;
}

let t: WorkerTransport;
let record: ResultRecord;
let claims: TaskClaims;
const noteHandle = (h: Handle): void => record.add(h);
const fns = new Map<string, TaskFn>();

/** ctx for one call; its AbortController is made only if the task reads `signal`. */
class Context implements TaskContext {
  readonly index: number;
  readonly workerId = t.workerId;
  readonly threadId = t.threadId;
  readonly pid = process.pid;
  #ctrl: AbortController | null = null;
  #aborted = false;
  #reason: unknown;

  constructor(index: number) {
    this.index = index;
  }

  get signal(): AbortSignal {
    if (this.#ctrl === null) {
      this.#ctrl = new AbortController();
      if (this.#aborted) this.#ctrl.abort(this.#reason);
    }
    return this.#ctrl.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#ctrl?.abort(reason);
  }
}

/** The task running now. */
let current: { id: number; ctx: Context } | null = null;
const queue: unknown[] = [];
let head = 0;
let busy = false;
let stopping = false;

function post(message: unknown[]): void {
  t.post(message);
}

function ingest(m: unknown[]): void {
  switch (m[0]) {
    case kRun:
      for (let i = 1; i < m.length; i++) queue.push(m[i]);
      break;
    case kCancel: {
      // Only a task this worker claimed is cancelled by message; one that already finished (its
      // reply is on its way) has nothing left to abort.
      if (current !== null && current.id === m[1]) {
        current.ctx.abort(decodeError(m[2] as EncodedError));
      }
      break;
    }
    case kStop:
      stopping = true;
      break;
  }
}

function drain(): void {
  for (;;) {
    const m = t.receive();
    if (m === undefined) return;
    ingest(m);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/** Runs queued tasks until the queue is empty or one goes asynchronous. */
function pump(): void {
  while (!busy) {
    drain();
    if (head >= queue.length) {
      queue.length = 0;
      head = 0;
      if (stopping) stop();
      return;
    }
    const at = head;
    head += kTaskFields;
    const id = queue[at] as number;
    const name = queue[at + 1] as string;
    const value = queue[at + 2];
    const handles = queue[at + 3] as Handle[] | null;
    const typed = queue[at + 4] as (string | null)[] | null;
    const index = queue[at + 5] as number;
    const chunk = queue[at + 6] as number;
    const claim = queue[at + 7] as number;
    for (let k = at; k < head; k++) queue[k] = undefined;
    // Taken back by the pool (cancelled, or given to another worker): its handles are the pool's.
    if (!claims.take(claim, id)) continue;
    const pending = execute(id, name, value, handles, typed, index, chunk);
    if (pending !== undefined) {
      busy = true;
      void pending.then(resume);
      return;
    }
  }
}

function resume(): void {
  busy = false;
  pump();
}

function refuse(id: number, error: unknown): void {
  post([kFail, id, encodeError(error), 0, kRefused, null, null]);
}

function execute(
  id: number,
  name: string,
  value: unknown,
  handles: Handle[] | null,
  typed: (string | null)[] | null,
  index: number,
  chunk: number,
): Promise<void> | undefined {
  const fn = fns.get(name);
  if (fn === undefined) {
    releaseHandles(handles);
    refuse(id, missingExportError(t.module, name, [...fns.keys()]));
    return undefined;
  }
  const attached: Shareable[] = [];
  let args: unknown;
  try {
    args = decode(value, handles, typed, attached);
  } catch (err) {
    refuse(id, err);
    return undefined;
  }
  if (chunk > 0) return runChunk(fn, id, args as unknown[], index, attached);
  const ctx = new Context(index);
  current = { id, ctx };
  let out: unknown;
  try {
    out = fn(args, ctx);
  } catch (err) {
    fail(id, err, 0, attached, null);
    return undefined;
  }
  if (isThenable(out)) {
    return Promise.resolve(out).then(
      (v) => succeed(id, v, attached),
      (err: unknown) => fail(id, err, 0, attached, null),
    );
  }
  succeed(id, out, attached);
  return undefined;
}

function runChunk(
  fn: TaskFn,
  id: number,
  items: unknown[],
  index: number,
  attached: Shareable[],
): Promise<void> | undefined {
  const results = new Array<unknown>(items.length);
  for (let i = 0; i < items.length; i++) {
    const ctx = new Context(index + i);
    current = { id, ctx };
    let out: unknown;
    try {
      out = fn(items[i], ctx);
    } catch (err) {
      fail(id, err, i, attached, results.slice(0, i));
      return undefined;
    }
    if (isThenable(out)) return finishChunk(fn, id, items, index, attached, results, i, out);
    results[i] = out;
  }
  succeed(id, results, attached);
  return undefined;
}

async function finishChunk(
  fn: TaskFn,
  id: number,
  items: unknown[],
  index: number,
  attached: Shareable[],
  results: unknown[],
  first: number,
  pending: PromiseLike<unknown>,
): Promise<void> {
  let i = first;
  try {
    results[i] = await pending;
    for (i++; i < items.length; i++) {
      const ctx = current!.ctx;
      if (ctx.aborted) throw ctx.signal.reason;
      const next = new Context(index + i);
      current = { id, ctx: next };
      results[i] = await fn(items[i], next);
    }
  } catch (err) {
    fail(id, err, i, attached, results.slice(0, i));
    return;
  }
  succeed(id, results, attached);
}

/**
 * Posts a failure. Shared objects found on the error are moved to the caller as a result's are
 * (error-carry.ts); the rest of the error is encoded (class, code, message, stack, causes).
 */
function fail(
  id: number,
  err: unknown,
  offset: number,
  attached: Shareable[],
  partial: unknown[] | null,
): void {
  current = null;
  closeShareables(partial);
  let carry: ReturnType<typeof carryFromError> = null;
  try {
    record.end();
    carry = carryFromError(err, noteHandle);
  } catch {
    carry = null; // a property getter threw, or the heap is full: the error goes without them
  }
  if (carry !== null) closeAll(carry.sources);
  closeAll(attached);
  const encoded = encodeError(err);
  try {
    post([kFail, id, encoded, offset, kThrew, carry?.carried ?? null, carry?.handles ?? null]);
  } catch {
    // What the error carried cannot be cloned: send the error alone.
    if (carry !== null) releaseHandles(carry.handles);
    post([kFail, id, encoded, offset, kThrew, null, null]);
  }
  record.end();
}

/**
 * Posts a result, moving its shared objects: their handles carry new references and the worker's
 * own references (and those of the task's arguments) are closed before the result leaves, so a
 * caller that has the result knows the worker holds nothing of it any more.
 */
function succeed(id: number, value: unknown, attached: Shareable[]): void {
  current = null;
  let out;
  record.end();
  try {
    // Each handle is recorded as soon as it is made: a worker terminated from here on (its task
    // timed out, say) leaves nothing the pool cannot release.
    out = encode(value, null, noteHandle);
  } catch (err) {
    record.end();
    closeShareables(value);
    closeAll(attached);
    post([kFail, id, encodeError(err), 0, kThrew, null, null]);
    return;
  }
  closeAll(out.sources);
  closeAll(attached);
  try {
    post([kOk, id, out.value, out.handles, null]);
  } catch (err) {
    releaseHandles(out.handles);
    record.end();
    const error = new TaskError(
      `The result of the task could not be sent to the pool: ${(err as Error).message.replace(/\.+$/, '')}. ` +
        'Results must be structured-clonable (no functions, class instances lose their class).',
      { cause: err },
    );
    post([kFail, id, encodeError(error), 0, kRefused, null, null]);
    return;
  }
  record.end();
}

function stop(): void {
  t.close();
}

function onMessage(m: unknown[]): void {
  ingest(m);
  pump();
}

/** Loads the task module and runs tasks as they come (the heap is set up by the caller). */
export async function runWorker(transport: WorkerTransport): Promise<void> {
  t = transport;
  record = t.record;
  claims = t.claims;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(t.module)) as Record<string, unknown>;
  } catch (err) {
    post([kInitError, encodeError(err)]);
    stop();
    return;
  }
  for (const key of Object.keys(mod)) {
    const v = mod[key];
    if (typeof v === 'function') fns.set(key, v as TaskFn);
  }
  t.listen(onMessage);
  post([kReady, [...fns.keys()]]);
}
