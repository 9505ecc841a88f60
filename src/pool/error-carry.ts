/**
 * Shared objects on a thrown error travel as a result's do: moved to the caller by handle.
 *
 * A task may throw an error that holds shared objects (`Object.assign(new Error('bad row'),
 * { partial })`, a ShmframeError whose `details` name an array, the same on a `cause`). Structured
 * clone cannot carry them and `encodeError` drops them, so before this the caller lost them and
 * the worker kept its references until its garbage collector ran. Now the worker finds them (own
 * enumerable properties and `details` entries of the error and of each cause, up to the depth
 * `encodeError` keeps) and posts them with the failure; the caller's rebuilt error has them back,
 * attached, and the caller owns them. A failure that reaches nobody has them released by the pool.
 */
import type { Handle } from '../heap/handle.js';
import type { Shareable } from '../heap/kinds.js';
import { closeShareables, decode, encode, holdsShared } from './marshal.js';

/** Where each carried value sits: [cause depth, 0 = own property | 1 = `details` entry, key]. */
export type CarriedPlace = [number, 0 | 1, string];

/** What a failure message carries besides the encoded error. */
export interface Carried {
  places: CarriedPlace[];
  /** The carried values, in place order, with handles where the shared objects were. */
  value: unknown;
}

/** Keys `encodeError` handles itself. */
const kOwnKeys = new Set(['code', 'details', 'cause', 'message', 'stack', 'name']);
/** As deep as `encodeError` follows causes. */
const kMaxDepth = 8;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/**
 * Worker side: the shared objects on `error`, encoded (each handle carries a new reference), or
 * null when it holds none. `sources` are the objects found: the worker drops its references to
 * them once the failure is posted (moved, as results are). `note` sees each handle as it is made.
 */
export function carryFromError(
  error: unknown,
  note: ((h: Handle) => void) | null = null,
): { carried: Carried; handles: Handle[]; sources: Shareable[] } | null {
  const places: CarriedPlace[] = [];
  const values: unknown[] = [];
  let e: unknown = error;
  const seen = new Set<unknown>();
  for (let depth = 0; depth <= kMaxDepth && isObject(e) && !seen.has(e); depth++) {
    seen.add(e);
    for (const key of Object.keys(e)) {
      if (kOwnKeys.has(key)) continue;
      const v = e[key];
      if (isObject(v) && holdsShared(v)) {
        places.push([depth, 0, key]);
        values.push(v);
      }
    }
    const details = e['details'];
    if (isObject(details)) {
      for (const key of Object.keys(details)) {
        const v = details[key];
        if (isObject(v) && holdsShared(v)) {
          places.push([depth, 1, key]);
          values.push(v);
        }
      }
    }
    e = e['cause'];
  }
  if (values.length === 0) return null;
  const out = encode(values, null, note);
  if (out.handles === null) return null;
  return {
    carried: { places, value: out.value },
    handles: out.handles,
    sources: out.sources ?? [],
  };
}

/**
 * Pool side: attaches the carried objects (adopting their references) and puts them back where
 * the worker found them on `error` (the rebuilt original error, i.e. level 0). Objects whose
 * place no longer exists on the rebuilt error are closed rather than leaked.
 */
export function restoreCarried(error: Error, carried: Carried, handles: readonly Handle[]): void {
  const values = decode(carried.value, handles, null, []) as unknown[];
  carried.places.forEach(([depth, where, key], i) => {
    let e: unknown = error;
    for (let d = 0; d < depth && isObject(e); d++) e = e['cause'];
    const v = values[i];
    if (!isObject(e)) {
      // The rebuilt chain is as deep as the worker's, so this does not happen; if it did, the
      // objects must not leak.
      closeShareables(v);
      return;
    }
    if (where === 0) {
      Object.defineProperty(e, key, {
        value: v,
        writable: true,
        configurable: true,
        enumerable: true,
      });
      return;
    }
    const details = isObject(e['details']) ? e['details'] : {};
    const next = { ...details, [key]: v };
    Object.defineProperty(e, 'details', {
      value: Object.isFrozen(details) ? Object.freeze(next) : next,
      writable: true,
      configurable: true,
      enumerable: true,
    });
  });
}
