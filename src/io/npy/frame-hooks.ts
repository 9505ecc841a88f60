/**
 * Structured `.npy` data <-> SharedFrame. Kept apart from the plain-array code so `.npy` arrays
 * do not load the frame module.
 */
import { DtypeError } from '../../errors.js';
import type { Heap } from '../../heap/heap.js';
import type { NpyHeader } from './header.js';

export interface FrameHooks {
  isFrame(value: unknown): boolean;
  readStructured(
    fd: number,
    path: string,
    header: NpyHeader,
    size: number,
    heap: Heap | undefined,
  ): never;
  writeStructured(fd: number, path: string, frame: unknown, position: number): number;
}

const hooks: FrameHooks = {
  isFrame: () => false,
  readStructured(_fd, path) {
    throw new DtypeError(
      `${JSON.stringify(path)} holds a structured array, which reads into a SharedFrame: not available yet`,
    );
  },
  writeStructured() {
    throw new DtypeError('Writing frames to .npy needs SharedFrame');
  },
};

export function frameHooks(): FrameHooks {
  return hooks;
}
