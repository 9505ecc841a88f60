/**
 * Shared memory segments the native backend maps: an anonymous memfd (children inherit it, the
 * kernel frees it with the last fd and mapping), a named POSIX shared memory object
 * (`/dev/shm/shmframe-<name>`, for unrelated processes), or a file (persistent; a RAM disk path
 * gives seed 003's "RAM disk" without serialising anything). Files are opened with Node's `fs`;
 * only memfd_create, mmap and fallocate need the addon.
 */
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readdirSync,
  statfsSync,
  unlinkSync,
} from 'node:fs';
import { resolve } from 'node:path';
import {
  HeapFullError,
  InvalidArgumentError,
  ShmframeIOError,
  UnknownHeapError,
} from '../errors.js';
import { formatBytes } from '../util/size.js';
import { requireNative } from './binding.js';

/** Where POSIX shared memory objects live on Linux (glibc's shm_open opens files here). */
export const kShmDir = '/dev/shm';
export const kNamePrefix = 'shmframe-';
const kNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export interface Segment {
  buffer: SharedArrayBuffer;
  /** The open fd (memfd heaps keep theirs: children inherit it), or -1 once closed. */
  fd: number;
  /** The segment's name (named heaps) or absolute path (file heaps); '' for a memfd. */
  path: string;
  /** True when this call created it (it must be formatted). */
  created: boolean;
}

/** Checks a heap name; returns the path of its shared memory object. */
export function namedPath(name: unknown): string {
  if (typeof name !== 'string' || !kNamePattern.test(name)) {
    throw new InvalidArgumentError(
      `Expected a heap \`name\` of 1-200 letters, digits, '.', '_' or '-' (not starting with '.', '_' or '-'), got ${JSON.stringify(name)}`,
    );
  }
  return `${kShmDir}/${kNamePrefix}${name}`;
}

function ioError(what: string, path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new UnknownHeapError(`${what}: ${path} does not exist`, { cause: err });
  }
  return new ShmframeIOError(
    `${what}: ${path}: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

function mapFd(fd: number, size: number, what: string): SharedArrayBuffer {
  const st = fstatSync(fd, { bigint: true });
  try {
    return requireNative(what).map(fd, size, `${st.dev}:${st.ino}`);
  } catch (err) {
    if (err instanceof Error && err.name === 'NativeBackendError') throw err;
    throw new ShmframeIOError(
      `${what}: mapping ${formatBytes(size)} failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/**
 * Refuses a size that the filesystem holding `dir` could not back: writing pages of a segment
 * past a full tmpfs kills the process with SIGBUS (Docker's default /dev/shm is 64 MiB).
 */
function checkSpace(dir: string, size: number, what: string): void {
  let free: number;
  try {
    const s = statfsSync(dir);
    free = s.bavail * s.bsize;
  } catch {
    return;
  }
  if (size > free) {
    throw new HeapFullError(
      `${what}: ${dir} has ${formatBytes(free)} free, less than the ${formatBytes(size)} asked for. ` +
        `Ask for less, free space in ${dir}, or use Heap.create({ shared: 'process' }) (a memfd, not counted against ${dir}).`,
      { details: { requested: size, available: free } },
    );
  }
}

/** A new anonymous memfd of `size` bytes, mapped. */
export function createMemfd(size: number): Segment {
  const native = requireNative("Heap.create({ shared: 'process' })");
  const fd = native.memfd('shmframe', size);
  if (fd < 0) {
    throw new ShmframeIOError(`memfd_create of ${formatBytes(size)} failed (errno ${-fd})`);
  }
  try {
    return {
      buffer: mapFd(fd, size, "Heap.create({ shared: 'process' })"),
      fd,
      path: '',
      created: true,
    };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Creates a named segment; `exclusive` refuses an existing one. */
export function createNamed(name: string, size: number): Segment {
  const path = namedPath(name);
  requireNative(`Heap.create({ name: '${name}' })`);
  checkSpace(kShmDir, size, `Heap.create({ name: '${name}' })`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new InvalidArgumentError(
        `A heap named '${name}' already exists (${path}): open it with Heap.open('${name}'), or pick another name`,
        { cause: err },
      );
    }
    throw ioError(`Heap.create({ name: '${name}' })`, path, err);
  }
  try {
    ftruncateSync(fd, size);
    const buffer = mapFd(fd, size, `Heap.create({ name: '${name}' })`);
    return { buffer, fd: closeAndForget(fd), path: name, created: true };
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
    throw err;
  }
}

function closeAndForget(fd: number): number {
  closeSync(fd);
  return -1;
}

/** Opens an existing named segment, mapped. */
export function openNamed(name: string): Segment {
  const path = namedPath(name);
  requireNative(`Heap.open('${name}')`);
  return openExisting(path, `Heap.open('${name}')`, name, false);
}

/** Opens and maps an existing segment or heap file (also /proc/<pid>/fd/<n> of a memfd). */
function openExisting(path: string, what: string, label: string, keepFd: boolean): Segment {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR);
  } catch (err) {
    throw ioError(what, path, err);
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 1 << 20) {
      throw new UnknownHeapError(
        `${what}: ${path} is ${size} bytes, too small to be a shmframe heap`,
      );
    }
    const buffer = mapFd(fd, size, what);
    return { buffer, fd: keepFd ? fd : closeAndForget(fd), path: label, created: false };
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
    throw err;
  }
}

/** Creates (or, with `overwrite`, replaces) a heap file of `size` bytes, mapped. */
export function createFile(file: string, size: number, overwrite: boolean): Segment {
  const path = resolve(file);
  const what = `Heap.create({ file: '${file}' })`;
  requireNative(what);
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_RDWR | constants.O_CREAT | (overwrite ? constants.O_TRUNC : constants.O_EXCL),
      0o600,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new InvalidArgumentError(
        `${what}: ${path} exists: open it with Heap.open({ file }) or pass { overwrite: true } to replace it`,
        { cause: err },
      );
    }
    throw ioError(what, path, err);
  }
  try {
    ftruncateSync(fd, size);
    // A file heap is written page by page later: reserve its blocks now, so that a full disk
    // or tmpfs (SIGBUS on a mapped write) is an error here instead of a crash then.
    const r = requireNative(what).reserve(fd, 0, size);
    if (r < 0) {
      throw new HeapFullError(
        `${what}: could not reserve ${formatBytes(size)} on the filesystem of ${path} (errno ${-r}): not enough space`,
      );
    }
    const buffer = mapFd(fd, size, what);
    return { buffer, fd: closeAndForget(fd), path, created: true };
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
    throw err;
  }
}

/** Opens an existing heap file. */
export function openFile(file: string): Segment {
  const path = resolve(file);
  const what = `Heap.open({ file: '${file}' })`;
  requireNative(what);
  return openExisting(path, what, path, false);
}

/** Opens the memfd heap another process holds as fd `fd` (through /proc/<pid>/fd/<fd>). */
export function openMemfdOf(pid: number, fd: number): Segment {
  const what = `Opening the heap of process ${pid}`;
  requireNative(what);
  return openExisting(`/proc/${pid}/fd/${fd}`, what, '', true);
}

/** Removes the name of a named segment (mappings stay valid until unmapped). */
export function unlinkNamed(name: string): boolean {
  try {
    unlinkSync(namedPath(name));
    return true;
  } catch {
    return false;
  }
}

/** Names of every shmframe segment in /dev/shm. */
export function listNamed(): string[] {
  try {
    return readdirSync(kShmDir)
      .filter((f) => f.startsWith(kNamePrefix))
      .map((f) => f.slice(kNamePrefix.length));
  } catch {
    return [];
  }
}
