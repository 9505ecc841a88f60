/**
 * Process identity and liveness from /proc, the same way in Node and Python: a process is
 * (pid, start time in clock ticks since boot), so a pid reused by a new process never makes a
 * dead one look alive. A zombie (exited, not yet waited for) counts as dead.
 */
import { readFileSync } from 'node:fs';

/**
 * Start time of `pid` (field 22 of /proc/<pid>/stat), or undefined when no such process runs
 * (gone, or a zombie).
 */
export function startTimeOf(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': parse after the last ')'.
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); field 22 is fields[19].
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const start = Number(fields[19]);
  return Number.isFinite(start) ? start : undefined;
}

let myStart: number | undefined;

/** Start time of this process. */
export function myStartTime(): number {
  myStart ??= startTimeOf(process.pid) ?? 0;
  return myStart;
}

/** True when the process (pid, startTime) still runs. */
export function isAlive(pid: number, startTime: number): boolean {
  if (pid === process.pid) return startTime === myStartTime();
  const s = startTimeOf(pid);
  return s !== undefined && s === startTime;
}

let boot: number | undefined;

/** A 31-bit hash of this boot's id: heaps in files outlive a reboot, their processes do not. */
export function bootHash(): number {
  if (boot !== undefined) return boot;
  let id = '';
  try {
    id = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    id = 'unknown';
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  boot = (h >>> 1) | 1;
  return boot;
}
