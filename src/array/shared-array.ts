import { BlockRef } from '../heap/block-ref.js';
import type { Handle } from '../heap/handle.js';
import { Heap } from '../heap/heap.js';
import { KindCode, kShare, registerKind } from '../heap/kinds.js';
import { CorruptError, DtypeError, InvalidArgumentError, ShapeError, describe } from '../errors.js';
import {
  datetimeToDate,
  dtypeOf,
  dtypeOfTypedArray,
  typedView,
  type DType,
  type TypedArray,
} from './dtype.js';
import { readElement, toStored, writeElement, type Scalar } from './element.js';
import {
  checkElementCount,
  checkShape,
  cStrides,
  isCContiguous,
  metaBytes,
  readMeta,
  sizeOf,
  spanOf,
  writeMeta,
} from './layout.js';
import { flattenNested, formatArray } from './format.js';
import { hasBrand } from '../util/brand.js';

const kBrand = Symbol.for('shmframe.SharedArray');
const kKind = 'array';

/** Options of the SharedArray factories. */
export interface ArrayOptions {
  /** Heap to allocate in. @default Heap.default() */
  heap?: Heap;
}

/** View parameters carried by the handle of a view. */
interface ViewSpec {
  offset: number;
  shape: number[];
  strides: number[];
  /** Set when the view lives in a block of another kind (a frame's columns): see {@link ArrayHost}. */
  host?: ArrayHost;
}

/**
 * @internal Where an array view lives when its block is not an array block: the block's kind
 * code and a kind-specific spec (for a frame, the dtype group its columns belong to). The hosting
 * kind registers a resolver ({@link registerArrayHost}) that checks the spec against the block
 * and returns the element region the view may reach, so a forged handle cannot read past it.
 */
export interface ArrayHost {
  code: number;
  spec: unknown;
}

/**
 * @internal Checks a host spec against its block (`ref`, already adopted): the dtype, the
 * absolute byte offset of element 0 and the number of elements a view may reach from there.
 */
export type ArrayHostResolver = (
  ref: BlockRef,
  spec: unknown,
) => { dt: DType; dataOffset: number; size: number };

const hosts = new Map<number, ArrayHostResolver>();

/** @internal Lets arrays live in blocks of kind `code` (frames register this at load). */
export function registerArrayHost(code: number, resolve: ArrayHostResolver): void {
  hosts.set(code, resolve);
}

/** @internal Static factory key: `SharedArray[kHostedArray](ref, host, view)`. */
export const kHostedArray = Symbol('shmframe.hostedArray');

function heapOf(options: ArrayOptions | undefined): Heap {
  if (options === undefined || options.heap === undefined) return Heap.default();
  if (!Heap.isHeap(options.heap))
    throw new InvalidArgumentError(`Expected \`heap\` to be a Heap, got ${describe(options.heap)}`);
  return options.heap;
}

/**
 * An N-dimensional array in shared memory: numpy's dtypes, shape and (element) strides over one
 * heap block. Every thread that attaches its handle sees the same memory; nothing is copied.
 *
 * @example
 * const a = SharedArray.zeros([1000, 5000], 'f8');
 * worker.postMessage(a.handle);            // in the worker: SharedArray.attach(handle)
 * a.data[0] = 1;                           // a Float64Array view of the shared memory
 * a.close();                               // drop this thread's reference
 */
export class SharedArray {
  readonly #ref: BlockRef;
  readonly #dt: DType;
  readonly #shape: readonly number[];
  readonly #strides: readonly number[];
  /** First element of this view, in elements from the start of the block's data. */
  readonly #offset: number;
  readonly #dataOffset: number;
  readonly #data: TypedArray;
  readonly #contiguous: boolean;
  /** This object shows the whole block as allocated (its handle needs no view). */
  readonly #whole: boolean;
  readonly #host: ArrayHost | undefined;

  private constructor(
    ref: BlockRef,
    dt: DType,
    dataOffset: number,
    view: ViewSpec,
    whole = false,
    host?: ArrayHost,
  ) {
    this.#ref = ref;
    this.#whole = whole;
    this.#host = host;
    this.#dt = dt;
    this.#dataOffset = dataOffset;
    this.#offset = view.offset;
    this.#shape = Object.freeze(view.shape.slice());
    this.#strides = Object.freeze(view.strides.slice());
    this.#contiguous = isCContiguous(view.shape, view.strides);
    const span = spanOf(view.shape, view.strides);
    const start = dataOffset + view.offset * dt.itemsize;
    this.#data =
      dt.kind === 'S'
        ? new Uint8Array(ref.heap.buffer, start, span * dt.itemsize)
        : typedView(dt.ctor, ref.heap.buffer, start, span);
    // The wrapper holds its data view, so the view outlives the wrapper: tracking the view
    // alone releases the block once neither is reachable (half the registrations).
    ref.track(this.#data);
  }

  // ------------------------------------------------------------------ factories

  static #allocate(
    shape: unknown,
    dtype: unknown,
    options: ArrayOptions | undefined,
    zero: boolean,
  ): SharedArray {
    const dims = checkShape(shape);
    const dt = dtypeOf(dtype);
    checkElementCount(dims, dt);
    const heap = heapOf(options);
    const meta = metaBytes(dims.length);
    const ref = BlockRef.allocate(
      heap,
      KindCode.array,
      meta + sizeOf(dims) * dt.itemsize,
      `a SharedArray [${dims.join(',')}] ${dt.str}`,
      zero,
    );
    writeMeta(heap.buffer, ref.byteOffset, dt, dims);
    return new SharedArray(
      ref,
      dt,
      ref.byteOffset + meta,
      { offset: 0, shape: dims, strides: cStrides(dims) },
      true,
    );
  }

  /**
   * A new array filled with zeros.
   * @param dtype @default 'f8'
   * @example SharedArray.zeros([10], 'u1')
   */
  static zeros(
    shape: number | readonly number[],
    dtype: string = 'f8',
    options?: ArrayOptions,
  ): SharedArray {
    return SharedArray.#allocate(shape, dtype, options, true);
  }

  /**
   * A new array whose contents are unspecified (whatever the memory held): the fastest way to get
   * an array you will overwrite entirely.
   * @param dtype @default 'f8'
   */
  static empty(
    shape: number | readonly number[],
    dtype: string = 'f8',
    options?: ArrayOptions,
  ): SharedArray {
    return SharedArray.#allocate(shape, dtype, options, false);
  }

  /**
   * A new array with every element set to `value`. The dtype defaults to the value's type:
   * number f8, bigint i8, boolean b1, Date M8[ms], string |S<bytes>.
   * @example SharedArray.full([3, 3], 7, 'i4')
   */
  static full(
    shape: number | readonly number[],
    value: Scalar | Date,
    dtype?: string,
    options?: ArrayOptions,
  ): SharedArray {
    const dt = dtype ?? inferScalarDtype(value);
    const a = SharedArray.#allocate(shape, dt, options, false);
    try {
      a.fill(value);
    } catch (err) {
      a.close();
      throw err;
    }
    return a;
  }

  /**
   * A new array holding a copy of `source`: a TypedArray, a (nested) JS array, or a SharedArray.
   * The dtype defaults to the TypedArray's (Float64Array f8, BigInt64Array i8...) or, for JS
   * arrays, to the elements' type. It may be given as the second argument, as in `zeros`, with
   * the options third.
   * @example SharedArray.from(new Float64Array(n), { shape: [rows, cols] })
   * @example SharedArray.from([1, 2, 3], 'i4', { heap })
   */
  static from(
    source: ArrayLike<unknown> | TypedArray | SharedArray,
    options?: ArrayFromOptions,
  ): SharedArray;
  static from(
    source: ArrayLike<unknown> | TypedArray | SharedArray,
    dtype: string,
    options?: Omit<ArrayFromOptions, 'dtype'>,
  ): SharedArray;
  static from(
    source: ArrayLike<unknown> | TypedArray | SharedArray,
    dtypeOrOptions?: string | ArrayFromOptions,
    rest?: Omit<ArrayFromOptions, 'dtype'>,
  ): SharedArray {
    const options = fromOptions(dtypeOrOptions, rest);
    if (
      SharedArray.isSharedArray(source) &&
      options.dtype !== undefined &&
      dtypeOf(options.dtype).str !== source.dtype
    ) {
      // A converting copy: element by element through the checked writer (values that do not
      // fit the new dtype are refused), from the source's memory when it is plain numbers.
      const opts = {
        ...options,
        heap: options.heap ?? source.heap,
        shape: options.shape ?? source.shape,
      };
      if (dtypeOf(source.dtype).kind === 'S') {
        const nested = source.toArray();
        return SharedArray.from(source.ndim === 0 ? [nested] : (nested as unknown[]), opts);
      }
      const flat = source.isContiguous ? source : source.copy();
      try {
        return SharedArray.from(flat.data, opts);
      } finally {
        if (flat !== source) flat.close();
      }
    }
    if (SharedArray.isSharedArray(source)) {
      const a = source.copy(options);
      if (options.shape === undefined) return a;
      try {
        return a.reshape(options.shape);
      } finally {
        a.close();
      }
    }
    let flat: ArrayLike<unknown>;
    let inferredShape: number[];
    let dt: DType;
    if (ArrayBuffer.isView(source) && !(source instanceof DataView)) {
      flat = source as unknown as ArrayLike<unknown>;
      inferredShape = [(source as TypedArray).length];
      const own = dtypeOfTypedArray(source);
      if (own === undefined)
        throw new DtypeError(`Cannot infer a dtype from a ${source.constructor.name}`);
      dt = options.dtype === undefined ? own : dtypeOf(options.dtype);
    } else if (Array.isArray(source)) {
      const nested = flattenNested(source);
      flat = nested.values;
      inferredShape = nested.shape;
      dt = options.dtype === undefined ? inferArrayDtype(nested.values) : dtypeOf(options.dtype);
    } else {
      throw new InvalidArgumentError(
        `Expected \`source\` to be a TypedArray, an array or a SharedArray, got ${describe(source)}`,
      );
    }
    let shape = inferredShape;
    if (options.shape !== undefined) {
      shape = checkShape(options.shape);
      if (sizeOf(shape) !== flat.length) {
        throw new ShapeError(
          `Cannot view ${flat.length} elements as shape [${shape.join(',')}] (${sizeOf(shape)} elements)`,
        );
      }
    }
    const a = SharedArray.#allocate(shape, dt.str, options, false);
    try {
      a.#copyIn(flat);
    } catch (err) {
      a.close();
      throw err;
    }
    return a;
  }

  #copyIn(flat: ArrayLike<unknown>): void {
    const data = this.#data;
    const dt = this.#dt;
    if (ArrayBuffer.isView(flat) && dt.kind !== 'S' && dt.kind !== 'b') {
      const srcBig = flat instanceof BigInt64Array || flat instanceof BigUint64Array;
      if (
        srcBig === dt.bigint &&
        (dt.kind === 'f' || dtypeOfTypedArray(flat as TypedArray) === dt)
      ) {
        // Same element kind: one native copy (TypedArray.set into the shared buffer).
        (data as unknown as { set(a: ArrayLike<unknown>): void }).set(flat);
        return;
      }
    }
    for (let i = 0; i < flat.length; i++) writeElement(dt, data, i, flat[i], `element ${i}`);
  }

  /**
   * Attaches a handle posted from another thread (or this one), adopting the reference it
   * carries. Throws SHMFRAME_ERR_CLOSED if the array was freed meanwhile.
   */
  static attach(handle: Handle): SharedArray {
    const host = (handle as Partial<Handle<ViewSpec>> | null)?.view?.host;
    if (host !== undefined) {
      const code = (host as Partial<ArrayHost> | null)?.code;
      if (typeof code !== 'number' || !hosts.has(code)) {
        throw new CorruptError(
          `Handle names an array view inside a block of kind ${describe(code)}, which no class in this thread hosts: import 'shmframe' first`,
        );
      }
      const { ref, handle: h } = BlockRef.adopt(handle, kKind, code, 'SharedArray');
      try {
        return SharedArray[kHostedArray](ref, host, h.view as ViewSpec);
      } catch (err) {
        ref.release();
        throw err;
      }
    }
    const { ref, handle: h } = BlockRef.adopt(handle, kKind, KindCode.array, 'SharedArray');
    try {
      const meta = readMeta(ref.heap.buffer, ref.byteOffset, ref.byteLength);
      if (h.view === undefined) {
        return new SharedArray(
          ref,
          meta.dt,
          meta.dataOffset,
          { offset: 0, shape: meta.shape, strides: cStrides(meta.shape) },
          true,
        );
      }
      return new SharedArray(ref, meta.dt, meta.dataOffset, checkView(h.view, meta.size));
    } catch (err) {
      ref.release();
      throw err;
    }
  }

  /**
   * @internal A view over elements of a block of another kind (a frame's same-dtype columns),
   * taking ownership of `ref`. The host's resolver checks the spec and bounds the view.
   */
  static [kHostedArray](
    ref: BlockRef,
    host: ArrayHost,
    view: Pick<ViewSpec, 'offset' | 'shape' | 'strides'>,
  ): SharedArray {
    const resolve = hosts.get(host.code);
    if (resolve === undefined) throw new CorruptError(`No array host for kind ${host.code}`);
    const r = resolve(ref, host.spec);
    const v = checkView({ offset: view.offset, shape: view.shape, strides: view.strides }, r.size);
    return new SharedArray(ref, r.dt, r.dataOffset, v, false, { code: host.code, spec: host.spec });
  }

  /** True for a SharedArray from any copy of this module. */
  static isSharedArray(value: unknown): value is SharedArray {
    return hasBrand(value, kBrand);
  }

  get [kBrand](): boolean {
    return true;
  }

  // ------------------------------------------------------------------ properties

  /** numpy typestr: `<f8`, `|b1`, `<M8[ms]`, `|S10`. */
  get dtype(): string {
    return this.#dt.str;
  }
  get shape(): readonly number[] {
    return this.#shape;
  }
  /** Strides in elements (numpy's are in bytes: multiply by `itemsize`). */
  get strides(): readonly number[] {
    return this.#strides;
  }
  get ndim(): number {
    return this.#shape.length;
  }
  get size(): number {
    return sizeOf(this.#shape);
  }
  get itemsize(): number {
    return this.#dt.itemsize;
  }
  /** Bytes of the elements this array shows (size x itemsize). */
  get byteLength(): number {
    return this.size * this.#dt.itemsize;
  }
  /** True when elements are laid out row-major without gaps. */
  get isContiguous(): boolean {
    return this.#contiguous;
  }
  get heap(): Heap {
    return this.#ref.heap;
  }
  get closed(): boolean {
    return this.#ref.released;
  }

  /**
   * The elements as a TypedArray view of the shared memory (BigInt64Array for i8 and M8,
   * BigUint64Array for u8, Uint8Array of `size * n` bytes for |S<n>). For a strided view it
   * spans from the first to the last element: index it with `strides`. Keep the SharedArray (or
   * this view) referenced while using it; a `subarray()` of it does not keep the memory alive.
   */
  get data(): TypedArray {
    this.#ref.check('This SharedArray');
    return this.#data;
  }

  // ------------------------------------------------------------------ elements

  #index(idx: readonly number[]): number {
    if (idx.length !== this.#shape.length) {
      throw new ShapeError(
        `Expected ${this.#shape.length} indices for an array of shape [${this.#shape.join(',')}], got ${idx.length}`,
      );
    }
    let at = 0;
    for (let k = 0; k < idx.length; k++) {
      let i = idx[k] as number;
      const n = this.#shape[k] as number;
      if (!Number.isInteger(i))
        throw new ShapeError(`Expected index ${k} to be an integer, got ${describe(i)}`);
      if (i < 0) i += n;
      if (i < 0 || i >= n)
        throw new ShapeError(`Index ${idx[k]} is out of bounds for axis ${k} with size ${n}`);
      at += i * (this.#strides[k] as number);
    }
    return at;
  }

  /**
   * One element by its indices (negative counts from the end).
   * @example a.get(2, 3)
   */
  get(...idx: number[]): Scalar {
    this.#ref.check('This SharedArray');
    return readElement(this.#dt, this.#data, this.#index(idx));
  }

  /**
   * Sets one element; the value must fit the dtype (no silent wrap or truncation).
   * @example a.set([2, 3], 1.5)
   */
  set(idx: number | readonly number[], value: unknown): void {
    this.#ref.check('This SharedArray');
    const at = this.#index(typeof idx === 'number' ? [idx] : idx);
    writeElement(
      this.#dt,
      this.#data,
      at,
      value,
      `index [${typeof idx === 'number' ? idx : idx.join(',')}]`,
    );
  }

  /** Sets every element to `value`. */
  fill(value: unknown): this {
    this.#ref.check('This SharedArray');
    const dt = this.#dt;
    if (this.size === 0) return this;
    if (this.#contiguous && dt.kind !== 'S') {
      (this.#data as unknown as { fill(v: unknown): void }).fill(toStored(dt, value, 'fill value'));
      return this;
    }
    this.#forEachOffset((at) => writeElement(dt, this.#data, at, value, 'fill value'));
    return this;
  }

  #forEachOffset(fn: (at: number) => void): void {
    const shape = this.#shape;
    const strides = this.#strides;
    const nd = shape.length;
    if (this.size === 0) return;
    if (nd === 0) return fn(0);
    const idx = new Array<number>(nd).fill(0);
    let at = 0;
    for (;;) {
      fn(at);
      let k = nd - 1;
      for (; k >= 0; k--) {
        idx[k] = (idx[k] as number) + 1;
        at += strides[k] as number;
        if ((idx[k] as number) < (shape[k] as number)) break;
        at -= (shape[k] as number) * (strides[k] as number);
        idx[k] = 0;
      }
      if (k < 0) return;
    }
  }

  // ------------------------------------------------------------------ views and copies

  #view(view: ViewSpec): SharedArray {
    return new SharedArray(this.#ref.dup(), this.#dt, this.#dataOffset, view, false, this.#host);
  }

  /**
   * A view of rows `[start, end)` along the first axis (negative counts from the end), sharing
   * memory and keeping the block alive after this array is closed.
   * @example const head = a.rows(0, 10)
   */
  rows(start = 0, end?: number): SharedArray {
    this.#ref.check('This SharedArray');
    if (this.ndim === 0) throw new ShapeError('Cannot take rows of a 0-dimensional array');
    const n = this.#shape[0] as number;
    const norm = (v: number, what: string): number => {
      if (!Number.isInteger(v))
        throw new ShapeError(`Expected \`${what}\` to be an integer, got ${describe(v)}`);
      return Math.min(n, Math.max(0, v < 0 ? v + n : v));
    };
    const s = norm(start, 'start');
    const e = Math.max(s, end === undefined ? n : norm(end, 'end'));
    const shape = this.#shape.slice();
    shape[0] = e - s;
    return this.#view({
      offset: this.#offset + s * (this.#strides[0] as number),
      shape,
      strides: this.#strides.slice(),
    });
  }

  /**
   * The same elements with a new shape (one dimension may be -1). Only for contiguous arrays;
   * a strided view must be `copy()`-ed first.
   * @example a.reshape([-1, 5])
   */
  reshape(shape: number | readonly number[]): SharedArray {
    this.#ref.check('This SharedArray');
    const dims = (typeof shape === 'number' ? [shape] : Array.from(shape)) as number[];
    const unknown = dims.filter((d) => d === -1).length;
    if (unknown > 1)
      throw new ShapeError(`Only one dimension of a reshape may be -1, got [${dims.join(',')}]`);
    if (unknown === 1) {
      const known = dims.reduce((p, d) => (d === -1 ? p : p * d), 1);
      if (known === 0 || this.size % known !== 0) {
        throw new ShapeError(`Cannot reshape ${this.size} elements to [${dims.join(',')}]`);
      }
      dims[dims.indexOf(-1)] = this.size / known;
    }
    const checked = checkShape(dims);
    if (sizeOf(checked) !== this.size) {
      throw new ShapeError(
        `Cannot reshape an array of shape [${this.#shape.join(',')}] (${this.size} elements) to [${checked.join(',')}]`,
      );
    }
    if (!this.#contiguous)
      throw new ShapeError('Cannot reshape a strided view without copying: call .copy() first');
    return this.#view({ offset: this.#offset, shape: checked, strides: cStrides(checked) });
  }

  /** A new contiguous array with the same elements (in this heap unless `heap` is given). */
  copy(options?: ArrayOptions): SharedArray {
    this.#ref.check('This SharedArray');
    const out = SharedArray.#allocate(
      this.#shape,
      this.#dt.str,
      { heap: options?.heap ?? this.heap },
      false,
    );
    const src = this.#data;
    const dst = out.#data;
    if (this.#contiguous) {
      (dst as unknown as { set(a: ArrayLike<unknown>): void }).set(
        src as unknown as ArrayLike<unknown>,
      );
    } else {
      const w = this.#dt.kind === 'S' ? this.#dt.itemsize : 1;
      let i = 0;
      this.#forEachOffset((at) => {
        if (w === 1) (dst as unknown as unknown[])[i++] = (src as unknown as unknown[])[at];
        else (dst as Uint8Array).set((src as Uint8Array).subarray(at * w, at * w + w), w * i++);
      });
    }
    return out;
  }

  /** The elements as nested JS arrays (numpy's `tolist()`). */
  toArray(): unknown {
    this.#ref.check('This SharedArray');
    const dt = this.#dt;
    const data = this.#data;
    const shape = this.#shape;
    const strides = this.#strides;
    const build = (k: number, at: number): unknown => {
      if (k === shape.length) return readElement(dt, data, at);
      const out = new Array<unknown>(shape[k] as number);
      for (let i = 0; i < (shape[k] as number); i++)
        out[i] = build(k + 1, at + i * (strides[k] as number));
      return out;
    };
    return build(0, 0);
  }

  // ------------------------------------------------------------------ sharing and lifetime

  /**
   * A handle to post to another thread: a small plain object carrying the heap's buffer and one
   * reference, which `SharedArray.attach` in the receiver adopts. Reading it again before it was
   * attached returns the same handle (no extra reference).
   */
  get handle(): Handle<ViewSpec> {
    this.#ref.check('This SharedArray');
    return this.#ref.reuseHandle(() => this[kShare]());
  }

  /** @internal A handle with a new reference on every call (used by Pool and queues). */
  [kShare](): Handle<ViewSpec> {
    const view: ViewSpec = {
      offset: this.#offset,
      shape: this.#shape.slice(),
      strides: this.#strides.slice(),
    };
    if (this.#host !== undefined) view.host = this.#host;
    return this.#ref.share(kKind, this.#whole ? undefined : view);
  }

  /** Drops this thread's reference; the last one (in any thread) frees the memory. Idempotent. */
  close(): void {
    this.#ref.release();
  }

  /**
   * The same as {@link close}: drops this thread's reference. Every shared class has
   * `detach()`, the counterpart of `attach()` (on a SharedQueue, where `close()` closes the
   * queue for everyone, it is the only way to drop a reference).
   */
  detach(): void {
    this.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    if (this.closed) return `SharedArray(${this.#dt.str}, closed)`;
    return `SharedArray(${this.#dt.str}, [${this.#shape.join(',')}]) ${formatArray(this.toPreview())}`;
  }

  /** @internal Nested preview arrays with '...' for long axes. */
  toPreview(edge = 3): unknown {
    const dt = this.#dt;
    const data = this.#data;
    const shape = this.#shape;
    const strides = this.#strides;
    const build = (k: number, at: number): unknown => {
      if (k === shape.length) {
        const v = readElement(dt, data, at);
        return dt.kind === 'M' ? datetimeToDate(v as bigint, dt.unit ?? 'ms') : v;
      }
      const n = shape[k] as number;
      const pick =
        n > 2 * edge + 1
          ? [...Array(edge).keys(), -1, ...Array.from({ length: edge }, (_, i) => n - edge + i)]
          : [...Array(n).keys()];
      return pick.map((i) => (i === -1 ? '...' : build(k + 1, at + i * (strides[k] as number))));
    };
    return build(0, 0);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** Options of {@link SharedArray.from}. */
export interface ArrayFromOptions extends ArrayOptions {
  /** Shape of the new array (as many elements as `source`). @default the source's */
  shape?: number | readonly number[];
  /** dtype of the new array. @default the source's (see {@link SharedArray.from}) */
  dtype?: string;
}

/** `from(source, options)` or `from(source, dtype, options)`: refuses anything else, clearly. */
function fromOptions(dtypeOrOptions: unknown, rest: unknown): ArrayFromOptions {
  const isOptions = (o: unknown): o is ArrayFromOptions =>
    o === undefined || (typeof o === 'object' && o !== null && !Array.isArray(o));
  if (typeof dtypeOrOptions === 'string') {
    if (!isOptions(rest))
      throw new InvalidArgumentError(
        `Expected the options of SharedArray.from(source, dtype, options) to be an object like { heap }, got ${describe(rest)}`,
      );
    const given = (rest as ArrayFromOptions | undefined)?.dtype;
    if (given !== undefined && given !== dtypeOrOptions)
      throw new InvalidArgumentError(
        `SharedArray.from() got two dtypes, ${describe(dtypeOrOptions)} and { dtype: ${describe(given)} }: pass one`,
      );
    return { ...(rest ?? {}), dtype: dtypeOrOptions };
  }
  if (!isOptions(dtypeOrOptions))
    throw new InvalidArgumentError(
      `Expected the second argument of SharedArray.from() to be a dtype like 'i4' or options like { dtype, shape, heap }, got ${describe(dtypeOrOptions)}`,
    );
  if (rest !== undefined)
    throw new InvalidArgumentError(
      `SharedArray.from() got a third argument after its options: a third argument (the options) goes with a dtype in second position, as in SharedArray.from(source, 'i4', { heap })`,
    );
  return dtypeOrOptions ?? {};
}

function checkView(view: unknown, baseSize: number): ViewSpec {
  const v = view as Partial<ViewSpec>;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger(v.offset) &&
    (v.offset as number) >= 0 &&
    Array.isArray(v.shape) &&
    Array.isArray(v.strides) &&
    v.shape.length === v.strides.length &&
    v.shape.length <= 32 &&
    v.shape.every((n) => Number.isSafeInteger(n) && n >= 0) &&
    v.strides.every((n) => Number.isSafeInteger(n) && n >= 0);
  if (!ok) throw new CorruptError(`Handle carries an invalid array view: ${describe(view)}`);
  // No view the library makes repeats an element (stride 0 along an axis of more than one
  // element) or has more elements than its block: refusing those keeps a forged view from
  // naming 2^33 elements of a 1-element block, which passed the bounds check and then threw an
  // uncoded RangeError in toArray() (issue 15).
  const shape = v.shape as number[];
  const strides = v.strides as number[];
  const size = sizeOf(shape);
  if (size > 0 && shape.some((n, i) => n > 1 && strides[i] === 0))
    throw new CorruptError(
      `Handle's array view repeats elements (shape [${shape.join(', ')}], strides [${strides.join(', ')}]): the handle is damaged or forged`,
    );
  if (size > baseSize)
    throw new CorruptError(
      `Handle's array view names ${size} elements (shape [${shape.join(', ')}]) of an array of ${baseSize}: the handle is damaged or forged`,
    );
  const span = spanOf(v.shape as number[], v.strides as number[]);
  if (span > 0 && (v.offset as number) + span > baseSize) {
    throw new CorruptError(
      `Handle's view reaches element ${(v.offset as number) + span - 1} of an array of ${baseSize} elements`,
    );
  }
  return { offset: v.offset as number, shape: v.shape as number[], strides: v.strides as number[] };
}

function inferScalarDtype(value: unknown): string {
  if (typeof value === 'number') return '<f8';
  if (typeof value === 'bigint') return '<i8';
  if (typeof value === 'boolean') return '|b1';
  if (value instanceof Date) return '<M8[ms]';
  if (typeof value === 'string') return `|S${Math.max(1, Buffer.byteLength(value))}`;
  throw new DtypeError(`Cannot infer a dtype from ${describe(value)}: pass one (e.g. 'f8')`);
}

function inferArrayDtype(values: readonly unknown[]): DType {
  let kind = '';
  let width = 1;
  for (const v of values) {
    const k =
      typeof v === 'number'
        ? 'f'
        : typeof v === 'bigint'
          ? 'i'
          : typeof v === 'boolean'
            ? 'b'
            : v instanceof Date
              ? 'M'
              : typeof v === 'string'
                ? 'S'
                : '?';
    if (k === '?')
      throw new DtypeError(
        `Cannot store ${describe(v)} in a SharedArray: elements must be numbers, bigints, booleans, Dates or strings`,
      );
    if (kind !== '' && kind !== k)
      throw new DtypeError(
        `Elements mix ${kind === 'f' ? 'numbers' : kind} and ${describe(v)}: pass a dtype`,
      );
    kind = k;
    if (k === 'S') width = Math.max(width, Buffer.byteLength(v as string));
  }
  return dtypeOf(
    kind === 'S'
      ? `|S${width}`
      : kind === 'i'
        ? '<i8'
        : kind === 'b'
          ? '|b1'
          : kind === 'M'
            ? '<M8[ms]'
            : '<f8',
  );
}

registerKind({ name: kKind, code: KindCode.array, attach: (h) => SharedArray.attach(h) });
