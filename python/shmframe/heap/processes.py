"""The process table of a process heap (``src/heap/processes.ts``): which processes, Node or
Python, have the heap mapped. Slot 0 is the table's own header (its word 0 holds the highest slot
ever claimed + 1); slots 1..cap are processes, each with (pid, start time), a doorbell for async
wakes and its language. Releasing what a dead process held is HeapCore's job (``reap_dead``)."""
import datetime
import os
import time

from .._proc import boot_hash, is_alive, my_start_time
from ..errors import HeapFullError
from .layout import (
    H_BOOT,
    H_PROC_CAP,
    H_PROC_START,
    LANG_NODE,
    LANG_PYTHON,
    P_ASYNC,
    P_DOORBELL,
    P_FD,
    P_JOINED_HI,
    P_JOINED_LO,
    P_LANG,
    P_PID,
    P_REAPER,
    P_SERIAL,
    P_START_HI,
    P_START_LO,
    P_STATE,
    PROC_CLAIMING,
    PROC_EXITED,
    PROC_FREE,
    PROC_LIVE,
    PROC_REAPING,
    PROC_WORDS,
)


class ProcessEntry:
    __slots__ = ("slot", "at", "state", "pid", "start_time")

    def __init__(self, slot, at, state, pid, start_time):
        self.slot = slot
        self.at = at
        self.state = state
        self.pid = pid
        self.start_time = start_time


class ProcessTable:
    def __init__(self, w):
        self.w = w
        self.start = w.get(H_PROC_START)
        self.cap = w.get(H_PROC_CAP)

    def at(self, slot):
        return self.start + slot * PROC_WORDS

    @property
    def top(self):
        return min(self.w.load(self.start), self.cap + 1)

    def entry(self, slot):
        w = self.w
        at = self.at(slot)
        return ProcessEntry(
            slot,
            at,
            w.load(at + P_STATE),
            w.load(at + P_PID),
            (w.load(at + P_START_HI) & 0xFFFFFFFF) * 2**32 + (w.load(at + P_START_LO) & 0xFFFFFFFF),
        )

    def alive(self, e):
        """Whether the process in slot ``e`` may still run (False once it is provably gone)."""
        if e.state in (PROC_FREE, PROC_CLAIMING):
            return e.state == PROC_CLAIMING
        if self.w.load(H_BOOT) != boot_hash():
            return False
        return is_alive(e.pid, e.start_time)

    def find_mine(self):
        me = os.getpid()
        start = my_start_time()
        for s in range(1, self.top):
            e = self.entry(s)
            if e.state == PROC_LIVE and e.pid == me and e.start_time == start:
                return s
        return -1

    def claim(self, fd, lang, usable):
        """Claims a free slot for this process (``usable(slot)``: no thread of a former
        occupant is still recorded)."""
        w = self.w
        for s in range(1, self.cap + 1):
            at = self.at(s)
            if w.load(at + P_STATE) != PROC_FREE or not usable(s):
                continue
            if w.cas(at + P_STATE, PROC_FREE, PROC_CLAIMING) != PROC_FREE:
                continue
            start = my_start_time()
            w.store(at + P_PID, os.getpid())
            w.store(at + P_START_LO, start % 2**32)
            w.store(at + P_START_HI, start // 2**32)
            w.store(at + P_ASYNC, 0)
            w.store(at + P_FD, fd)
            w.store(at + P_LANG, LANG_NODE if lang == "node" else LANG_PYTHON)
            w.store(at + P_REAPER, 0)
            w.add(at + P_SERIAL, 1)
            now = int(time.time() * 1000)
            w.store(at + P_JOINED_LO, now % 2**32)
            w.store(at + P_JOINED_HI, now // 2**32)
            while True:
                top = w.load(self.start)
                if top > s or w.cas(self.start, top, s + 1) == top:
                    break
            w.store(at + P_STATE, PROC_LIVE)
            return s
        raise HeapFullError(
            f"The heap's process table is full ({self.cap} processes attached): no more processes can join it"
        )

    def leave(self, slot):
        self.w.cas(self.at(slot) + P_STATE, PROC_LIVE, PROC_EXITED)

    def memfd_holder(self, slot):
        """A live process holding a memfd heap open, preferring ``slot``: (pid, fd) or None."""
        w = self.w
        mine = self.entry(slot)
        if mine.state == PROC_LIVE and w.load(mine.at + P_FD) >= 0:
            return mine.pid, w.load(mine.at + P_FD)
        for s in range(1, self.top):
            e = self.entry(s)
            if e.state == PROC_LIVE and w.load(e.at + P_FD) >= 0 and self.alive(e):
                return e.pid, w.load(e.at + P_FD)
        return None

    def set_fd(self, slot, fd):
        self.w.store(self.at(slot) + P_FD, fd)

    def fd_of(self, slot):
        return self.w.load(self.at(slot) + P_FD)

    def begin_reap(self, e, me):
        w = self.w
        if e.state not in (PROC_LIVE, PROC_EXITED):
            return False
        if w.cas(e.at + P_STATE, e.state, PROC_REAPING) != e.state:
            return False
        w.store(e.at + P_REAPER, me)
        return True

    def reaper_of(self, e):
        return self.w.load(e.at + P_REAPER)

    def take_over_reap(self, e, dead_reaper, me):
        if dead_reaper == 0:
            return False
        return self.w.cas(e.at + P_REAPER, dead_reaper, me) == dead_reaper

    def end_reap(self, e):
        w = self.w
        w.store(e.at + P_DOORBELL, 0)
        w.store(e.at + P_ASYNC, 0)
        w.store(e.at + P_REAPER, 0)
        w.store(e.at + P_PID, 0)
        w.store(e.at + P_STATE, PROC_FREE)

    def list(self):
        """Live and exited processes, for Heap.processes()."""
        out = []
        w = self.w
        me = os.getpid()
        for s in range(1, self.top):
            e = self.entry(s)
            if e.state in (PROC_FREE, PROC_CLAIMING):
                continue
            alive = self.alive(e)
            joined_ms = (w.load(e.at + P_JOINED_HI) & 0xFFFFFFFF) * 2**32 + (
                w.load(e.at + P_JOINED_LO) & 0xFFFFFFFF
            )
            out.append(
                {
                    "pid": e.pid,
                    "runtime": "python" if w.load(e.at + P_LANG) == LANG_PYTHON else "node",
                    "state": "dead"
                    if (not alive or e.state == PROC_REAPING)
                    else ("exited" if e.state == PROC_EXITED else "live"),
                    "joined": datetime.datetime.fromtimestamp(joined_ms / 1000, datetime.timezone.utc),
                    "self": e.pid == me and e.start_time == my_start_time(),
                }
            )
        return out

    def others_alive(self, except_slot):
        n = 0
        for s in range(1, self.top):
            if s == except_slot:
                continue
            e = self.entry(s)
            if e.state == PROC_LIVE and self.alive(e):
                n += 1
        return n
