/**
 * Removing named segments whose processes are all gone: every `Heap.create` and
 * `shmframe gc` call {@link sweepNamed}. A segment is kept while any process in its table may
 * still run, while this process maps it, and while it is young and unformatted (its creator may
 * be formatting it right now).
 */
import { closeSync, constants, fstatSync, openSync, statSync, unlinkSync } from 'node:fs';
import { tryNative } from '../native/binding.js';
import { bootHash, isAlive } from '../native/proc.js';
import { kNamePrefix, kShmDir, listNamed } from '../native/segment.js';
import {
  H_BACKING,
  H_BOOT,
  H_MAGIC,
  H_PROC_CAP,
  H_PROC_START,
  H_VERSION,
  P_PID,
  P_START_HI,
  P_START_LO,
  P_STATE,
  kBackingNamed,
  kHeapMagic,
  kLayoutVersion,
  kProcFree,
  kProcWords,
} from './layout.js';

/** An unformatted segment younger than this may be one being created right now. */
const kYoungMs = 60_000;
/** The header and tables of any heap fit in this prefix (tickets at most 2 MiB). */
const kProbeBytes = 8 * 2 ** 20;

export interface SweepReport {
  /** Names removed (their processes were all gone). */
  removed: string[];
  /** Names kept, with why. */
  kept: { name: string; reason: string }[];
}

/** Whether a live process may still use the segment, with why (undefined: nobody). */
function inUse(words: Int32Array): string | undefined {
  if (Atomics.load(words, H_BOOT) !== bootHash()) return undefined;
  const start = Atomics.load(words, H_PROC_START);
  const cap = Atomics.load(words, H_PROC_CAP);
  if (start <= 0 || cap <= 0 || (start + (cap + 1) * kProcWords) * 4 > words.byteLength) {
    return 'its process table is unreadable';
  }
  for (let s = 1; s <= cap; s++) {
    const at = start + s * kProcWords;
    if (Atomics.load(words, at + P_STATE) === kProcFree) continue;
    const pid = Atomics.load(words, at + P_PID);
    const st =
      (Atomics.load(words, at + P_START_HI) >>> 0) * 2 ** 32 +
      (Atomics.load(words, at + P_START_LO) >>> 0);
    if (isAlive(pid, st)) return `process ${pid} uses it`;
  }
  return undefined;
}

/** Removes every shmframe segment in /dev/shm whose processes are all gone. */
export function sweepNamed(): SweepReport {
  const report: SweepReport = { removed: [], kept: [] };
  const native = tryNative();
  if (native === undefined) return report;
  for (const name of listNamed()) {
    const path = `${kShmDir}/${kNamePrefix}${name}`;
    let fd = -1;
    try {
      fd = openSync(path, constants.O_RDWR);
      const st = fstatSync(fd, { bigint: true });
      const key = `${st.dev}:${st.ino}`;
      if (native.mapped(key)) {
        report.kept.push({ name, reason: 'this process maps it' });
        continue;
      }
      const size = Number(st.size);
      let reason: string | undefined;
      if (size < 4096) {
        reason = Date.now() - Number(st.mtimeMs) < kYoungMs ? 'it is being created' : undefined;
      } else {
        const probe = native.map(fd, Math.min(size, kProbeBytes), `${key}:probe`);
        const words = new Int32Array(probe, 0, Math.floor(probe.byteLength / 4));
        if (Atomics.load(words, H_MAGIC) !== kHeapMagic) {
          reason = Date.now() - Number(st.mtimeMs) < kYoungMs ? 'it is being created' : undefined;
        } else if (words[H_VERSION] !== kLayoutVersion || words[H_BACKING] !== kBackingNamed) {
          reason = `it has layout version ${words[H_VERSION]}, which this shmframe does not read`;
        } else {
          reason = inUse(words);
        }
      }
      if (reason !== undefined) {
        report.kept.push({ name, reason });
        continue;
      }
      // Still the same file? (It may have been removed and created again meanwhile.)
      const again = statSync(path, { bigint: true });
      if (again.ino !== st.ino || again.dev !== st.dev) {
        report.kept.push({ name, reason: 'it was created again meanwhile' });
        continue;
      }
      unlinkSync(path);
      report.removed.push(name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT')
        report.kept.push({ name, reason: `it could not be read (${String(code ?? err)})` });
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  return report;
}
