import { BlockRef } from '../heap/block-ref.js';
import { resolveHandle, type Handle } from '../heap/handle.js';
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
import { flattenNested, formatArrayText, kElided } from './format.js';
import type {
  DataOf,
  DtypeOfTypedArray,
  DtypeOfValue,
  Indices,
  InputOf,
  KnownRank,
  Lengths,
  JsonScalarOf,
  Nested,
  NestedDepth,
  NestedElement,
  RankBelow,
  RankOf,
  ScalarOf,
} from './dtype-types.js';
import { hasBrand } from '../util/brand.js';

const kBrand = Symbol.for('shmframe.SharedArray');

/** A shape argument: a length, or one length per dimension. */
type ShapeInput = number | readonly number[];

/** The dtype `SharedArray.from` infers for a source without `dtype`. */
type DtypeOfSource<Src> =
  Src extends SharedArray<infer D, number>
    ? D
    : Src extends TypedArray
      ? DtypeOfTypedArray<Src>
      : Src extends readonly unknown[]
        ? DtypeOfValue<NestedElement<Src>>
        : string;

/** The rank `SharedArray.from` gives a source without `shape`. */
type RankOfSource<Src> =
  Src extends SharedArray<string, infer N>
    ? N
    : Src extends TypedArray
      ? 1
      : Src extends readonly unknown[]
        ? NestedDepth<Src>
        : number;

/** What iterating an array of rank `N` yields: elements for 1-D, row views otherwise. */
export type ArrayItemOf<D extends string, N extends number> = N extends 0
  ? never
  : N extends 1
    ? ScalarOf<D>
    : N extends KnownRank
      ? SharedArray<D, RankBelow<N>>
      : ScalarOf<D> | SharedArray<D>;

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
 *
 * @typeParam D - the dtype as written (`'f8'`, `'float64'`, `'<i8'`...): it types `data`, `get`,
 *   `set` (`SharedArray<'f8'>` has a Float64Array and numbers); `string` when only known at run
 *   time, which gives the unions of every dtype.
 * @typeParam N - the number of dimensions when known (`shape` is then a tuple, `get` takes N
 *   indices, iteration yields elements for 1, rows for more); `number` otherwise.
 */
export class SharedArray<D extends string = string, N extends number = number> {
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
  /** A row view made by iteration: it shares its parent's reference, and `close()` does nothing. */
  readonly #borrowed: boolean;
  #borrowedHandle: Handle<ViewSpec> | undefined;

  private constructor(
    ref: BlockRef,
    dt: DType,
    dataOffset: number,
    view: ViewSpec,
    whole = false,
    host?: ArrayHost,
    borrowed = false,
  ) {
    this.#ref = ref;
    this.#borrowed = borrowed;
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

  static #allocate<T extends string = string, R extends number = number>(
    shape: unknown,
    dtype: unknown,
    options: ArrayOptions | undefined,
    zero: boolean,
  ): SharedArray<T, R> {
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
    return new SharedArray<T, R>(
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
  static zeros<const S extends ShapeInput, T extends string = '<f8'>(
    shape: S,
    dtype?: T,
    options?: ArrayOptions,
  ): SharedArray<T, RankOf<S>> {
    return SharedArray.#allocate(shape, dtype ?? 'f8', options, true) as SharedArray<T, RankOf<S>>;
  }

  /**
   * A new array whose contents are unspecified (whatever the memory held): the fastest way to get
   * an array you will overwrite entirely.
   * @param dtype @default 'f8'
   */
  static empty<const S extends ShapeInput, T extends string = '<f8'>(
    shape: S,
    dtype?: T,
    options?: ArrayOptions,
  ): SharedArray<T, RankOf<S>> {
    return SharedArray.#allocate(shape, dtype ?? 'f8', options, false) as SharedArray<T, RankOf<S>>;
  }

  /**
   * A new array with every element set to `value`. The dtype defaults to the value's type:
   * number f8, bigint i8, boolean b1, Date M8[ms], string |S<bytes>.
   * @example SharedArray.full([3, 3], 7, 'i4')
   */
  static full<const S extends ShapeInput, T extends string>(
    shape: S,
    value: InputOf<T>,
    dtype: T,
    options?: ArrayOptions,
  ): SharedArray<T, RankOf<S>>;
  static full<const S extends ShapeInput, V extends Scalar | Date>(
    shape: S,
    value: V,
    dtype?: undefined,
    options?: ArrayOptions,
  ): SharedArray<DtypeOfValue<V>, RankOf<S>>;
  static full(
    shape: ShapeInput,
    value: unknown,
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
   * arrays, to the elements' type; a SharedArray keeps its own unless `dtype` says otherwise (then
   * the values are converted, checked). The dtype may be given as the second argument, as in
   * `zeros`, with the options third.
   * @example SharedArray.from(new Float64Array(n), { shape: [rows, cols] })
   * @example SharedArray.from([1, 2, 3], 'i4', { heap })
   */
  static from<
    const Src extends ArrayLike<unknown> | TypedArray | SharedArray,
    T extends string = DtypeOfSource<Src>,
    const S extends ShapeInput | undefined = undefined,
  >(
    source: Src,
    options?: ArrayOptions & { shape?: S; dtype?: T },
  ): SharedArray<T, S extends ShapeInput ? RankOf<S> : RankOfSource<Src>>;
  static from(
    source: ArrayLike<unknown> | TypedArray | SharedArray,
    options?: ArrayFromOptions,
  ): SharedArray;
  static from<
    const Src extends ArrayLike<unknown> | TypedArray | SharedArray,
    const T extends string,
    const S extends ShapeInput | undefined = undefined,
  >(
    source: Src,
    dtype: T,
    options?: ArrayOptions & { shape?: S },
  ): SharedArray<T, S extends ShapeInput ? RankOf<S> : RankOfSource<Src>>;
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
   * carries. Throws SHMFRAME_ERR_CLOSED if the array was freed meanwhile. The dtype is not in the
   * handle's type: give it as a type argument (`attach<'f8'>(h)`, unchecked) or as `dtype`, which
   * types the array and is checked (SHMFRAME_ERR_DTYPE if the array has another dtype).
   * @example const a = SharedArray.attach(handle, { dtype: 'f8' }); // a.data: Float64Array
   */
  static attach<T extends string = string, R extends number = number>(
    handle: Handle | string,
    options?: { dtype?: T },
  ): SharedArray<T, R> {
    const a = SharedArray.#attach(handle);
    const want = options?.dtype;
    if (want !== undefined && dtypeOf(want).str !== a.#dt.str) {
      a.close();
      throw new DtypeError(
        `Expected the attached array to be of dtype ${dtypeOf(want).str} (attach's \`dtype\`), got ${a.#dt.str} ` +
          `of shape [${a.#shape.join(',')}]`,
      );
    }
    return a as SharedArray<T, R>;
  }

  static #attach(input: Handle | string): SharedArray {
    const handle = resolveHandle(input) as Handle;
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
  /** One length per dimension (a tuple type when the number of dimensions is known). */
  get shape(): Lengths<N> {
    return this.#shape as Lengths<N>;
  }
  /** Strides in elements (numpy's are in bytes: multiply by `itemsize`). */
  get strides(): Lengths<N> {
    return this.#strides as Lengths<N>;
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
  get data(): DataOf<D> {
    this.#ref.check('This SharedArray');
    return this.#data as DataOf<D>;
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
  get(...idx: Indices<N>): ScalarOf<D> {
    this.#ref.check('This SharedArray');
    return readElement(this.#dt, this.#data, this.#index(idx)) as ScalarOf<D>;
  }

  /**
   * Sets one element; the value must fit the dtype (no silent wrap or truncation).
   * @example a.set([2, 3], 1.5)
   */
  set(idx: number | readonly number[], value: InputOf<D>): void {
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
  fill(value: InputOf<D>): this {
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

  #view<R extends number>(view: ViewSpec): SharedArray<D, R> {
    return new SharedArray<D, R>(
      this.#ref.dup(),
      this.#dt,
      this.#dataOffset,
      view,
      false,
      this.#host,
    );
  }

  /**
   * A view of rows `[start, end)` along the first axis (negative counts from the end), sharing
   * memory and keeping the block alive after this array is closed.
   * @example const head = a.rows(0, 10)
   */
  rows(start = 0, end?: number): SharedArray<D, N> {
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
  reshape<const S extends ShapeInput>(shape: S): SharedArray<D, RankOf<S>> {
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
  copy(options?: ArrayOptions): SharedArray<D, N> {
    this.#ref.check('This SharedArray');
    const out = SharedArray.#allocate<D, N>(
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

  /** The elements as nested JS arrays (numpy's `tolist()`); a 0-d array gives its element. */
  toArray(): Nested<ScalarOf<D>, N> {
    this.#ref.check('This SharedArray');
    const dt = this.#dt;
    const data = this.#data;
    return this.#nested((at) => readElement(dt, data, at)) as Nested<ScalarOf<D>, N>;
  }

  /** Nested arrays of `read(offset)` over every element, in row-major order. */
  #nested(read: (at: number) => unknown): unknown {
    const shape = this.#shape;
    const strides = this.#strides;
    // `#data` starts at this view's first element: offsets are relative to it.
    const build = (k: number, at: number): unknown => {
      if (k === shape.length) return read(at);
      const out = new Array<unknown>(shape[k] as number);
      for (let i = 0; i < (shape[k] as number); i++)
        out[i] = build(k + 1, at + i * (strides[k] as number));
      return out;
    };
    return build(0, 0);
  }

  /**
   * The elements as nested JS arrays for `JSON.stringify(array)` (numpy's `tolist()`): 64-bit
   * integers as strings (JSON has no bigint, and a number would lose digits past 2^53),
   * datetimes as ISO strings (NaT null), `|S<n>` as strings; NaN and infinities stay numbers,
   * which `JSON.stringify` writes as null.
   * @example JSON.stringify(SharedArray.from([[1, 2], [3, 4]])) // '[[1,2],[3,4]]'
   */
  toJSON(): Nested<JsonScalarOf<D>, N> {
    this.#ref.check('This SharedArray');
    const dt = this.#dt;
    const data = this.#data;
    const read =
      dt.kind === 'M'
        ? (at: number): unknown => {
            const d = datetimeToDate(data[at] as bigint, dt.unit ?? 'ms');
            return Number.isNaN(d.getTime()) ? null : d.toISOString();
          }
        : dt.bigint
          ? (at: number): unknown => String(data[at])
          : (at: number): unknown => readElement(dt, data, at);
    return this.#nested(read) as Nested<JsonScalarOf<D>, N>;
  }

  /**
   * Iterates the first axis, as numpy does: the elements of a 1-D array, the rows of an N-d one
   * as (N-1)-d views. A row view borrows this array's reference: it needs no `close()` (calling
   * it does nothing), stays valid while this array is open and reports closed after; keep one
   * longer with `a.rows(i, i + 1)` (its own reference) or `row.copy()`. A 0-d array is not
   * iterable (TypeError, as in numpy).
   * @example for (const x of SharedArray.from([1, 2, 3])) total += x;
   * @example for (const row of matrix) console.log(row.toArray());
   */
  *[Symbol.iterator](): IterableIterator<ArrayItemOf<D, N>> {
    this.#ref.check('This SharedArray');
    const shape = this.#shape;
    if (shape.length === 0) throw new TypeError('A 0-dimensional SharedArray is not iterable');
    const n = shape[0] as number;
    const step = this.#strides[0] as number;
    if (shape.length === 1) {
      const dt = this.#dt;
      for (let i = 0; i < n; i++) {
        this.#ref.check('This SharedArray');
        yield readElement(dt, this.#data, i * step) as ArrayItemOf<D, N>;
      }
      return;
    }
    const view = { shape: shape.slice(1), strides: this.#strides.slice(1) };
    for (let i = 0; i < n; i++) {
      this.#ref.check('This SharedArray');
      yield new SharedArray(
        this.#ref,
        this.#dt,
        this.#dataOffset,
        { offset: this.#offset + i * step, ...view },
        false,
        this.#host,
        true,
      ) as unknown as ArrayItemOf<D, N>;
    }
  }

  // ------------------------------------------------------------------ sharing and lifetime

  /**
   * A handle to post to another thread: a small plain object carrying the heap's buffer and one
   * reference, which `SharedArray.attach` in the receiver adopts. Reading it again before it was
   * attached returns the same handle (no extra reference).
   */
  get handle(): Handle<ViewSpec> {
    this.#ref.check('This SharedArray');
    if (!this.#borrowed) return this.#ref.reuseHandle(() => this[kShare]());
    // A row view shares its parent's reference, and so its handle cache: keep its own.
    const h = this.#borrowedHandle;
    if (
      h !== undefined &&
      this.#ref.core.tickets.isOutstanding({ slot: h.ticket, serial: h.serial }, h.unit)
    )
      return h;
    return (this.#borrowedHandle = this[kShare]());
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

  /**
   * Drops this thread's reference; the last one (in any thread) frees the memory. Idempotent.
   * On a row view made by iteration, which borrows its array's reference, it does nothing.
   */
  close(): void {
    if (!this.#borrowed) this.#ref.release();
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

  /**
   * The dtype, the shape and the elements, laid out as numpy prints them: every element up to
   * 1000 of them (numpy's `threshold`), beyond that the first and last 3 of each axis around
   * `...`; lines wrap at 75 characters.
   * @example String(SharedArray.from([[1, 2], [3, 4]])) // 'SharedArray(<f8, [2,2])\n[[1, 2],\n [3, 4]]'
   */
  toString(): string {
    if (this.closed) return `SharedArray(${this.#dt.str}, closed)`;
    const head = `SharedArray(${this.#dt.str}, [${this.#shape.join(',')}])`;
    const body = formatArrayText(this.#preview(), this.#shape.length, this.#dt.kind !== 'S');
    return body.includes('\n') || head.length + 1 + body.length > 75
      ? `${head}\n${body}`
      : `${head} ${body}`;
  }

  /** Nested display values, with '...' for the middle of long axes when the array is large. */
  #preview(): unknown {
    const dt = this.#dt;
    const data = this.#data;
    const shape = this.#shape;
    const strides = this.#strides;
    const edge = this.size > kPrintThreshold ? kEdgeItems : Infinity;
    const build = (k: number, at: number): unknown => {
      if (k === shape.length) {
        const v = readElement(dt, data, at);
        return dt.kind === 'M' ? datetimeToDate(v as bigint, dt.unit ?? 'ms') : v;
      }
      const n = shape[k] as number;
      const pick =
        n > 2 * edge
          ? [...Array(edge).keys(), -1, ...Array.from({ length: edge }, (_, i) => n - edge + i)]
          : [...Array(n).keys()];
      return pick.map((i) => (i === -1 ? kElided : build(k + 1, at + i * (strides[k] as number))));
    };
    return build(0, 0);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** numpy's print options: arrays of more elements are summarised, `edgeitems` per axis end. */
const kPrintThreshold = 1000;
const kEdgeItems = 3;

/** Options of {@link SharedArray.from}. */
export interface ArrayFromOptions extends ArrayOptions {
  /** Shape of the new array (as many elements as `source`). @default the source's */
  shape?: ShapeInput;
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
