"""Process identity and liveness from /proc, exactly as ``src/native/proc.ts`` reads them.

A process is (pid, start time in clock ticks since boot: field 22 of /proc/<pid>/stat), so a pid
reused by a new process never makes a dead one look alive. A zombie counts as dead. Heaps record
a hash of /proc/sys/kernel/random/boot_id: a file heap outlives a reboot, its processes do not.
"""
import os

_my = None  # (pid, start time) of this process; recomputed after a fork
_boot = None


def start_time_of(pid):
    """Start time of ``pid`` (field 22), or None when no such process runs (gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("latin-1")
    except OSError:
        return None
    close = stat.rfind(")")
    if close < 0:
        return None
    fields = stat[close + 2 :].split(" ")
    # fields[0] is field 3 (state); field 22 is fields[19].
    if not fields or fields[0] in ("Z", "X") or len(fields) < 20:
        return None
    try:
        return int(fields[19])
    except ValueError:
        return None


def my_start_time():
    """Start time of this process."""
    global _my
    pid = os.getpid()
    if _my is None or _my[0] != pid:
        _my = (pid, start_time_of(pid) or 0)
    return _my[1]


def is_alive(pid, start_time):
    """True when the process (pid, start_time) still runs."""
    if pid == os.getpid():
        return start_time == my_start_time()
    s = start_time_of(pid)
    return s is not None and s == start_time


def _imul(a, b):
    return (a * b) & 0xFFFFFFFF


def boot_hash():
    """A 31-bit hash of this boot's id (FNV-1a as in proc.ts, shifted right, low bit set)."""
    global _boot
    if _boot is not None:
        return _boot
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            boot_id = f.read().decode("latin-1").strip()
    except OSError:
        boot_id = "unknown"
    h = 0x811C9DC5
    for ch in boot_id:
        h = _imul(h ^ ord(ch), 0x01000193)
    _boot = (h >> 1) | 1
    return _boot
