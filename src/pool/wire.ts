/**
 * Handles on the wire between a pool and its worker processes (process-slot.ts, process-entry.ts):
 * a handle's buffer cannot cross the IPC channel, so it travels without it and with its string
 * form, which opens the heap in a process that has not opened it yet.
 */
import { handleText, resolveHandle, type Handle } from '../heap/handle.js';
import { Heap } from '../heap/heap.js';
import { handleFields } from './protocol.js';

/** A handle on the wire between processes: its fields, and its string form to open its heap. */
interface WireHandle {
  heap: number;
  buffer?: SharedArrayBuffer;
  guard?: Uint8Array;
  text?: string;
}

/**
 * Readies the handles of a message for another process, in place: a handle's buffer (and the
 * guard that refuses v8 serialization) cannot cross, so each loses them and gains its string
 * form. The handles in a message are made for it alone (marshal.ts makes them per message), and
 * the same objects sit in the handle lists and where the shared objects were in the value:
 * structured clone keeps that identity, which the receiver's decode relies on. Throws the coded
 * error of a thread heap's handle, which no other process can attach.
 */
export function wireHandles(m: readonly unknown[]): void {
  for (const at of handleFields(m)) {
    const list = m[at] as WireHandle[] | null | undefined;
    if (list === null || list === undefined) continue;
    for (const h of list) {
      if (h.buffer === undefined) continue; // already readied (a task sent again)
      h.text = handleText(h as unknown as Handle, 'a worker process of the pool');
      delete h.guard;
      delete h.buffer;
    }
  }
}

/** The receiving side of {@link wireHandles}: each handle gets its heap's buffer back. */
export function unwireHandles(m: readonly unknown[]): void {
  for (const at of handleFields(m)) {
    const list = m[at] as WireHandle[] | null | undefined;
    if (list === null || list === undefined) continue;
    for (const h of list) {
      if (h.buffer !== undefined) continue;
      h.buffer =
        Heap.byId(h.heap)?.buffer ?? (resolveHandle(h.text) as unknown as WireHandle).buffer;
    }
  }
}
