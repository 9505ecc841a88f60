/**
 * Loading h5wasm (an optional peer dependency: only HDF5 users install it) and the small part of
 * its API the HDF5 reader and writer use: the high-level File/Group for groups and attributes,
 * the low-level Module for creating chunked datasets and reading / writing hyperslabs through a
 * bounded buffer in the wasm memory (which stops at 2 GiB).
 */
import { MissingDependencyError, ShmframeIOError } from '../../errors.js';

/** What we use of h5wasm's metadata objects. */
export interface H5Meta {
  type: number;
  size: number;
  signed: boolean;
  littleEndian: boolean;
  vlen: boolean;
  cset?: number;
  strpad?: number;
  shape: number[] | null;
  maxshape?: number[] | null;
  chunks?: number[] | null;
  total_size?: number;
  compound_type?: { nmembers: number; members: Array<H5Meta & { name: string; offset: number }> };
  enum_type?: { members: Record<string, number>; nmembers: number; type: number };
}

export interface H5Module {
  _malloc(n: number): number;
  _free(p: number): void;
  HEAPU8: Uint8Array;
  create_dataset(fileId: bigint, path: string, ptr: bigint, meta: object): number;
  resize_dataset(fileId: bigint, path: string, shape: bigint[]): number;
  set_dataset_data(
    fileId: bigint,
    path: string,
    count: bigint[],
    offset: bigint[],
    strides: bigint[],
    ptr: bigint,
  ): number;
  get_dataset_data(
    fileId: bigint,
    path: string,
    count: bigint[],
    offset: bigint[],
    strides: bigint[],
    ptr: bigint,
  ): number;
  flush(fileId: bigint): number;
  /** Emscripten's file system, through which HDF5's POSIX driver reaches the disk. */
  FS?: EmscriptenFS;
}

/** The calls of Emscripten's FS that report a failed write, close or resize of a file. */
interface EmscriptenFS {
  write: (...args: unknown[]) => number;
  close: (...args: unknown[]) => unknown;
  ftruncate?: (...args: unknown[]) => unknown;
}

export interface H5Entity {
  type: string;
  path: string;
  metadata: H5Meta;
  attrs: Record<string, { value: unknown }>;
  keys(): string[];
  get(name: string): H5Entity | null;
  create_group(name: string, trackOrder?: boolean): H5Entity;
  create_attribute(
    name: string,
    data: unknown,
    shape?: number[] | null,
    dtype?: string | null,
  ): void;
}

export interface H5File extends H5Entity {
  file_id: bigint;
  close(): number;
}

export interface H5 {
  File: new (path: string, mode: string, options?: object) => H5File;
  Module: H5Module;
}

let loading: Promise<H5> | undefined;

/** What {@link watchWrites} returns: the first failure seen, and the end of the watch. */
export interface WriteWatch {
  /** The first failed write, close or resize since the watch began (an errno error), if any. */
  readonly failure: (Error & { code?: string; errno?: number }) | undefined;
  /** Restores h5wasm's file system calls. */
  stop(): void;
}

/**
 * Watches every write, close and resize h5wasm makes through Emscripten's file system until
 * `stop()`, remembering the first that fails. Needed because h5wasm does not pass every HDF5
 * failure on: `set_dataset_data` ignores the status of the dataset close that flushes the chunk
 * cache, so a disk that fills up while compressed chunks are written was reported as success
 * (issue 15: a good file replaced by a truncated one). The watch is synchronous with the write
 * it covers (no await in between), so it sees only that write's calls.
 */
export function watchWrites(h5: H5): WriteWatch {
  const fs = h5.Module.FS;
  let failure: WriteWatch['failure'];
  if (fs === undefined || typeof fs.write !== 'function' || typeof fs.close !== 'function')
    return { failure: undefined, stop: () => {} };
  const saved = { write: fs.write, close: fs.close, ftruncate: fs.ftruncate };
  const wrap =
    <A extends unknown[], R>(call: (...args: A) => R) =>
    (...args: A): R => {
      try {
        return call.apply(fs, args);
      } catch (err) {
        failure ??= err as Error;
        throw err;
      }
    };
  fs.write = wrap(saved.write);
  fs.close = wrap(saved.close);
  if (saved.ftruncate !== undefined) fs.ftruncate = wrap(saved.ftruncate);
  return {
    get failure() {
      return failure;
    },
    stop() {
      fs.write = saved.write;
      fs.close = saved.close;
      if (saved.ftruncate !== undefined) fs.ftruncate = saved.ftruncate;
    },
  };
}

const kErrnoText: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EFBIG: 'file too large (a file-size limit was reached)',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
};

/** SHMFRAME_ERR_IO for a failed h5wasm write of `path`, naming the system error when known. */
export function h5WriteError(
  path: string,
  failure: WriteWatch['failure'],
  what: string,
): ShmframeIOError {
  const code = typeof failure?.code === 'string' ? failure.code : '';
  const why = code !== '' ? `${code}: ${kErrnoText[code] ?? 'the system refused the write'}` : what;
  return new ShmframeIOError(
    `Cannot write ${JSON.stringify(path)}: ${why}. The file was not written (an existing file keeps its contents); ` +
      `free space or raise the limit and write again.`,
    { cause: failure, details: { path, code } },
  );
}

/** h5wasm, loaded on first use, or a clear error saying what to install. */
export function loadH5(what: string): Promise<H5> {
  loading ??= (async () => {
    let mod: { File: H5['File']; ready: Promise<H5Module> };
    try {
      mod = (await import('h5wasm/node')) as unknown as typeof mod;
    } catch (err) {
      loading = undefined;
      throw new MissingDependencyError(
        `${what} needs the optional peer dependency h5wasm, which is not installed: run \`npm install h5wasm\` (tested with 0.10.x).`,
        { cause: err, details: { package: 'h5wasm' } },
      );
    }
    const Module = await mod.ready;
    return { File: mod.File, Module };
  })();
  return loading;
}

/** HDF5 class codes (H5T_class_t). */
export const H5T_INTEGER = 0;
export const H5T_FLOAT = 1;
export const H5T_STRING = 3;
export const H5T_COMPOUND = 6;
export const H5T_ENUM = 8;

/** A buffer in the wasm memory, re-viewed after every allocation (the memory may grow). */
export class WasmBuffer {
  readonly #m: H5Module;
  readonly ptr: number;
  readonly size: number;
  constructor(m: H5Module, size: number) {
    this.#m = m;
    this.size = size;
    const ptr = m._malloc(Math.max(8, size));
    if (!ptr)
      throw new ShmframeIOError(
        `h5wasm could not allocate ${size} bytes in its wasm memory (it stops at 2 GiB): use smaller \`chunkRows\``,
      );
    this.ptr = ptr;
  }
  /** The bytes, as a view valid until the next allocation in the module. */
  view(n = this.size): Uint8Array {
    return this.#m.HEAPU8.subarray(this.ptr, this.ptr + n);
  }
  free(): void {
    this.#m._free(this.ptr);
  }
}
