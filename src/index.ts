/**
 * shmframe: zero-copy shared arrays and frames for Node.js worker threads. This barrel is the
 * whole public API; everything else is internal.
 */
export { Heap } from './heap/heap.js';
export type { HeapStats, HeapOptions, ReleaseReport } from './heap/heap.js';
export type { Handle } from './heap/handle.js';
export { isHandle } from './heap/handle.js';
export { SharedArray } from './array/shared-array.js';
export type { ArrayOptions, ArrayItemOf, ArrayFromOptions } from './array/shared-array.js';
export type {
  DataOf,
  DtypeName,
  InputOf,
  JsonScalarOf,
  ScalarOf,
  TypestrOf,
} from './array/dtype-types.js';
export type { TypedArray, DatetimeUnit } from './array/dtype.js';
export type { Scalar } from './array/element.js';
export { SharedQueue } from './sync/shared-queue.js';
export type { QueueOptions, QueueWaitOptions, QueueAsyncOptions } from './sync/shared-queue.js';
export { SharedLock } from './sync/shared-lock.js';
export type {
  LockOptions,
  AcquireOptions,
  AcquireAsyncOptions,
  LockHold,
} from './sync/shared-lock.js';
export {
  ShmframeError,
  InvalidArgumentError,
  DtypeError,
  ShapeError,
  HeapFullError,
  ClosedError,
  UnknownHeapError,
  CorruptError,
  QueueFullError,
  QueueEmptyError,
  QueueClosedError,
  ShmframeTimeoutError,
  AbortedError,
  TaskError,
  WorkerCrashedError,
  ParseError,
  ShmframeIOError,
  LockOwnerError,
  MissingDependencyError,
  NativeBackendError,
  ErrorCodes,
  encodeError,
  decodeError,
  isEncodedError,
} from './errors.js';
export type { ErrorCode, EncodedError } from './errors.js';
export { parseSize, formatBytes } from './util/size.js';
export { SharedFrame } from './frame/shared-frame.js';
export type {
  FrameOptions,
  FromOptions,
  PerColumn,
  DisplayOptions,
  Schema,
  SchemaInput,
  ArrowModule,
  FrameColumn,
  FrameRow,
  FrameCell,
  FrameCellOf,
  FrameColumnOf,
  FrameInputOf,
  FrameJSONOf,
  FrameRowOf,
  FrameSchema,
  SchemaOf,
  ReduceOptions,
  ReduceValue,
  SortOptions,
} from './frame/shared-frame.js';
export { Utf8Column, CategoryColumn, BytesColumn } from './frame/columns.js';
export { readNpy, writeNpy } from './io/npy/npy.js';
export type { ReadNpyOptions, NpySource } from './io/npy/npy.js';
export { readDelimited } from './io/delimited/read-delimited.js';
export type {
  ReadDelimitedOptions,
  LoadReport,
  BadLine,
  LoadProgress,
} from './io/delimited/read-delimited.js';
export type { SchemaSpec } from './io/schema-spec.js';
export { writeHDF5 } from './io/hdf5/write-hdf5.js';
export type { WriteHDF5Options, HDF5Datasets } from './io/hdf5/write-hdf5.js';
export { readHDF5 } from './io/hdf5/read-hdf5.js';
export type { ReadHDF5Options } from './io/hdf5/read-hdf5.js';
export { readArrow, writeArrow } from './io/arrow/arrow-ipc.js';
export type { ReadArrowOptions, WriteArrowOptions } from './io/arrow/arrow-ipc.js';
export { readNpz, writeNpz } from './io/npy/npz.js';
export type { ReadNpzOptions, WriteNpzOptions, NpzEntries } from './io/npy/npz.js';
export { Pool } from './pool/pool.js';
export type { TaskItems } from './pool/pool.js';
export type {
  PoolOptions,
  RunOptions,
  MapOptions,
  ImapOptions,
  ProgressOption,
  TaskContext,
  TaskFunction,
  TaskModule,
  PoolStats,
  WorkerStats,
} from './pool/types.js';
