/**
 * The one thin loader of the native backend (`native/`, built by `npm ci` with node-gyp). It
 * loads the addon once per thread and hands out its functions; every argument check happens in
 * TypeScript before a call gets here. When the addon is missing or cannot load, thread heaps
 * work as before and whatever needs it fails with {@link NativeBackendError} saying how to build.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { NativeBackendError } from '../errors.js';

/** The addon's functions (native/src/addon.cc). */
export interface NativeBinding {
  version(): number;
  /** SharedArrayBuffer over mmap(MAP_SHARED) of fd; one mapping per `key` per process. */
  map(fd: number, size: number, key: string): SharedArrayBuffer;
  /** Whether some thread of this process has the segment `key` mapped. */
  mapped(key: string): boolean;
  /** 0 woken, 1 not-equal, 2 timed out, 3 interrupted. */
  futexWait(
    sab: SharedArrayBuffer,
    byteOffset: number,
    expected: number,
    timeoutMs: number,
  ): number;
  futexWake(sab: SharedArrayBuffer, byteOffset: number, count: number): number;
  relayCallback(fn: () => void): void;
  relaySubscribe(sab: SharedArrayBuffer, byteOffset: number): void;
  relayUnsubscribe(sab: SharedArrayBuffer, byteOffset: number): void;
  /** fd or -errno */
  memfd(name: string, size: number): number;
  /** 0 or -errno */
  reserve(fd: number, offset: number, size: number): number;
  /**
   * An id for the marked operations on this mapping, or -1 when `sab` is not one of the addon's
   * mappings. (Absent from an addon built before them: callers fall back to JavaScript.)
   */
  markBase?(sab: SharedArrayBuffer): number;
  /** Atomic add of `delta` to word `word` and phase 1 into word `mark` (-1: none); the old value. */
  addMark?(id: number, word: number, delta: number, mark: number): number;
  /** Atomic decrement, then phase 2 (it was 1) or 1 into `mark`; the old value. */
  decMark?(id: number, word: number, mark: number): number;
  /** Compare-and-swap, then `phase` into `mark` if it succeeded; the value seen. */
  casMark?(
    id: number,
    word: number,
    expected: number,
    value: number,
    mark: number,
    phase: number,
  ): number;
}

/** ABI version of native/src/sys.c this code speaks. */
const kNativeVersion = 1;

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Where `npm ci` builds the addon. */
export const kAddonPath = `${root}native/build/Release/shmframe.node`;
/** The plain C library Python loads with ctypes. */
export const kSysLibraryPath = `${root}native/build/Release/shmframe_sys.so`;

let loaded: NativeBinding | undefined;
let failure: string | undefined;

function load(): NativeBinding | undefined {
  if (loaded !== undefined || failure !== undefined) return loaded;
  if (process.env['SHMFRAME_NO_NATIVE'] === '1') {
    failure = 'SHMFRAME_NO_NATIVE=1 is set';
    return undefined;
  }
  if (process.platform !== 'linux') {
    failure = `the native backend supports Linux only, this is ${process.platform}`;
    return undefined;
  }
  if (!existsSync(kAddonPath)) {
    failure = `${kAddonPath} does not exist (the addon was not built)`;
    return undefined;
  }
  try {
    const b = createRequire(import.meta.url)(kAddonPath) as NativeBinding;
    if (b.version() !== kNativeVersion) {
      failure = `the built addon speaks version ${b.version()}, this shmframe ${kNativeVersion}: rebuild it`;
      return undefined;
    }
    loaded = b;
  } catch (err) {
    // Runtimes with the V8 sandbox (Electron >= 21) refuse memory the addon maps itself.
    failure = `loading ${kAddonPath} failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  return loaded;
}

/** The addon, or undefined when it is not available (see {@link nativeFailure}). */
export function tryNative(): NativeBinding | undefined {
  return load();
}

/** Why the addon is not available, or undefined when it is. */
export function nativeFailure(): string | undefined {
  load();
  return failure;
}

/** The addon, or a {@link NativeBackendError} saying why not and how to build it. */
export function requireNative(what: string): NativeBinding {
  const b = load();
  if (b !== undefined) return b;
  throw new NativeBackendError(
    `${what} needs shmframe's native backend, which is not available: ${failure}. ` +
      `Build it with \`npm run build:native\` (needs python3, make and a C++ compiler; Node's ` +
      `headers come with Node). Thread heaps (Heap.create({ size })) work without it.`,
  );
}
