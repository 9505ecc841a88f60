"""HeapCore: this process's engine for one mapped heap (``src/heap/core.ts`` for Python).

It validates (or formats) the control header, joins the process table as a Python process, and
implements references exactly as core.ts does: allocate, retain, release, share (a handle with a
ticket), adopt (attach a handle), and the release of everything a dead process held
(:meth:`reap_dead`), with the same crash-safe pending-operation records in the thread table.

Python threads each have an identity (``slot * 2**21 + thread index``) and a ledger of their own,
as Node threads do; but a Python object may be used from any thread of its process, so a
reference stays recorded in the ledger of the identity that took it, and whichever thread drops
it updates that ledger. Every operation runs under one lock per heap and process, so two Python
threads never write the heap's bookkeeping at once. Finalizers (the garbage collector's safety
net) never release in the middle of an operation: they queue the release, which runs when the
operation ends.
"""
import collections
import ctypes
import os
import random
import threading

from .._proc import boot_hash
from ..errors import ClosedError, CorruptError, InvalidArgumentError, UnknownHeapError
from . import threads
from .allocator import Allocator
from .futex import ProcessLink
from .kinds import FreedBlock, dispose_block, repair_block
from .layout import (
    ALLOC_MAGIC,
    B_CHECK,
    B_GEN,
    B_LEN_HI,
    B_LEN_LO,
    B_MAGIC,
    B_REFS,
    B_SIZE,
    B_VERKIND,
    BACKING_THREAD,
    H_BACKING,
    H_BOOT,
    H_DATA_START,
    H_END,
    H_ID_HI,
    H_ID_LO,
    H_LOCK,
    H_MAGIC,
    H_NAMES_CAP,
    H_NAMES_START,
    H_PATH_START,
    H_PROC_CAP,
    H_PROC_START,
    H_SIZE_HI,
    H_SIZE_LO,
    H_TABLES,
    H_THREAD_CAP,
    H_THREAD_OVERFLOW,
    H_TICKET_CAP,
    H_VERSION,
    HEAP_MAGIC,
    INTERNAL_KIND,
    KIND_ARRAY,
    KIND_LEDGER,
    KIND_NAMES,
    LAYOUT_VERSION,
    NAME_WORDS,
    NAMES_CAPACITY,
    OP_ADOPT,
    OP_ALLOC,
    OP_DROP,
    OP_RETAIN,
    OP_SHARE,
    PATH_BYTES,
    PROC_CAPACITY,
    PROC_CLAIMING,
    PROC_FREE,
    PROC_REAPING,
    PROC_WORDS,
    SLOT_SPAN,
    T_LEDGER,
    T_LEDGER_NEXT,
    T_LEDGER_OLD,
    T_STATE,
    T_THREAD,
    THREAD_FREE,
    THREAD_WORDS,
    TICKET_WORDS,
    UNIT,
    WORDS_PER_UNIT,
    header_check,
)
from .ledger import Ledger, ledger_entries, resolve_pending, thread_table_start
from .processes import ProcessTable
from .tickets import Tickets
from .words import Words

MIN_HEAP_SIZE = 1 << 20
THREAD_CAPACITY = 1024


class BlockInfo:
    """A checked block: unit, generation, kind code, payload offset and length, and the identity
    whose ledger records the reference taken (``owner``)."""

    __slots__ = ("unit", "generation", "kind", "byte_offset", "byte_length", "owner")

    def __init__(self, unit, generation, kind, byte_offset, byte_length, owner=-1):
        self.unit = unit
        self.generation = generation
        self.kind = kind
        self.byte_offset = byte_offset
        self.byte_length = byte_length
        self.owner = owner


def _u(v):
    return v & 0xFFFFFFFF


class HeapCore:
    """One mapped heap, as this process sees it."""

    def __init__(self, mapping, size, w, slot, fd, path_hint=""):
        self.mapping = mapping
        self.w = w
        self.id = w.getu(H_ID_HI) * 2**32 + w.getu(H_ID_LO)
        self.size = w.getu(H_SIZE_HI) * 2**32 + w.getu(H_SIZE_LO)
        self.data_start = w.getu(H_DATA_START)
        self.end = w.getu(H_END)
        self.backing = w.get(H_BACKING)
        self.slot = slot
        self.fd = fd
        self.pid = os.getpid()
        self.joined = True  # False in a forked child until it joins the process table
        self.procs = None if slot == 0 else ProcessTable(w)
        self.lock = threading.RLock()
        self._local = threading.local()
        self._deferred = collections.deque()
        self.alloc = Allocator(w, self.tid)
        self.tickets = Tickets(w)
        self.ledgers = {}
        # Bumped when this process's references were released wholesale (it left the heap, or
        # this is a forked child whose inherited objects belong to its parent).
        self.epoch = 0
        self.left = False
        w.link = ProcessLink(slot, self._stall)

    # ------------------------------------------------------------------ identity

    def tid(self):
        """The calling thread's identity in this heap."""
        return self.slot * SLOT_SPAN + threads.index()

    def ledger(self, tid):
        L = self.ledgers.get(tid)
        if L is None:
            L = Ledger(self.w, self.alloc, tid)
            self.ledgers[tid] = L
        return L

    # ------------------------------------------------------------------ format / open

    @staticmethod
    def format(mapping, size, backing_kind, path, fd):
        """Formats a new heap in a fresh (zeroed) mapping and joins it."""
        w = Words(mapping, size)
        shared = backing_kind != BACKING_THREAD
        ticket_cap = min(262144, max(4096, size // 65536))
        thread_words = H_TABLES + ticket_cap * TICKET_WORDS + THREAD_CAPACITY * THREAD_WORDS
        proc_start = thread_words
        proc_cap = PROC_CAPACITY if shared else 0
        names_start = proc_start + ((proc_cap + 1) * PROC_WORDS if shared else 0)
        path_start = names_start + NAMES_CAPACITY * NAME_WORDS
        table_words = path_start + 1 + PATH_BYTES // 4
        data_start = -(-(table_words * 4) // UNIT)
        end = size // UNIT - 1
        heap_id = random.randrange(2**52) + 1
        w.set(H_VERSION, LAYOUT_VERSION)
        w.set(H_ID_LO, heap_id % 2**32)
        w.set(H_ID_HI, heap_id // 2**32)
        w.set(H_SIZE_LO, size % 2**32)
        w.set(H_SIZE_HI, size // 2**32)
        w.set(H_TICKET_CAP, ticket_cap)
        w.set(H_THREAD_CAP, THREAD_CAPACITY)
        w.set(H_BACKING, backing_kind)
        w.set(H_BOOT, boot_hash() if shared else 0)
        w.set(H_PROC_START, proc_start)
        w.set(H_PROC_CAP, proc_cap)
        w.set(H_NAMES_START, names_start)
        w.set(H_NAMES_CAP, NAMES_CAPACITY)
        w.set(H_PATH_START, path_start)
        _write_path(w, path_start, path)
        if shared:
            w.set(proc_start, 1)
        Allocator.format(w, data_start, end)
        slot = 0
        if shared:
            slot = ProcessTable(w).claim(fd, "python", lambda s: True)
        w.store(H_MAGIC, HEAP_MAGIC)
        return HeapCore(mapping, size, w, slot, fd)

    @staticmethod
    def open(mapping, size, fd=-1, expected_id=None):
        """Validates the control header of a mapped heap and joins its process table."""
        if size < MIN_HEAP_SIZE:
            raise CorruptError(f"Heap of {size} bytes is too small")
        w = Words(mapping, size)
        if w.load(H_MAGIC) != HEAP_MAGIC:
            raise CorruptError("The mapped memory is not a shmframe heap (bad magic)")
        if w.get(H_VERSION) != LAYOUT_VERSION:
            raise CorruptError(
                f"Heap layout version {w.get(H_VERSION)} is not supported by this shmframe (expects {LAYOUT_VERSION})"
            )
        hsize = w.getu(H_SIZE_HI) * 2**32 + w.getu(H_SIZE_LO)
        end = w.getu(H_END)
        data_start = w.getu(H_DATA_START)
        proc_start = w.getu(H_PROC_START)
        proc_cap = w.getu(H_PROC_CAP)
        names_start = w.getu(H_NAMES_START)
        path_start = w.getu(H_PATH_START)
        backing = w.get(H_BACKING)
        if (
            hsize != size
            or end * UNIT >= hsize
            or data_start >= end
            or data_start < H_TABLES // WORDS_PER_UNIT
            or backing < 0
            or backing > 3
            or proc_cap > PROC_CAPACITY
            or (backing != BACKING_THREAD) != (proc_cap > 0)
            or proc_start + (proc_cap + 1) * PROC_WORDS > names_start + (PROC_WORDS if proc_cap == 0 else 0)
            or names_start + w.getu(H_NAMES_CAP) * NAME_WORDS > path_start
            or (path_start + 1 + PATH_BYTES // 4) * 4 > data_start * UNIT
        ):
            raise CorruptError(f"Heap header is inconsistent with its {size}-byte mapping")
        heap_id = w.getu(H_ID_HI) * 2**32 + w.getu(H_ID_LO)
        if expected_id is not None and heap_id != expected_id:
            raise UnknownHeapError(
                f"Handle names heap {expected_id:x} but the memory holds heap {heap_id:x}"
            )
        if backing == BACKING_THREAD:
            raise UnknownHeapError(
                "The mapped memory is a thread heap, which only its own Node process uses: "
                "create the heap with Heap.create({ shared: 'process' }) (or a name or file)"
            )
        core = HeapCore(mapping, size, w, 0, fd)
        core._join(fd)
        return core

    def _join(self, fd):
        table = ProcessTable(self.w)
        slot = table.find_mine()
        if slot < 0:
            slot = table.claim(fd, "python", lambda s: not _has_threads_of(self.w, s))
        elif fd >= 0 and table.fd_of(slot) < 0:
            table.set_fd(slot, fd)
        self.slot = slot
        self.procs = table
        self.w.link.slot = slot
        self.pid = os.getpid()
        self.joined = True

    def after_fork_in_child(self):
        """A forked child inherits the mapping but is another process: its inherited objects
        are its parent's references (never released here), and it joins the heap afresh on
        first use."""
        self.lock = threading.RLock()
        self._local = threading.local()
        self._deferred.clear()
        self.ledgers = {}
        self.epoch += 1
        self.left = False
        self.pid = -1
        self.joined = False  # joins on first use

    def _enter(self):
        self.lock.acquire()
        local = self._local
        try:
            depth = local.depth
        except AttributeError:
            depth = 0
        local.depth = depth + 1
        if not self.joined:
            try:
                self._join(self.fd)
            except BaseException:
                local.depth = depth
                self.lock.release()
                raise

    def _exit(self):
        local = self._local
        try:
            if local.depth == 1 and self._deferred:
                self._drain()
        finally:
            local.depth -= 1
            self.lock.release()

    def _drain(self):
        while self._deferred:
            unit, owner, epoch = self._deferred.popleft()
            if epoch != self.epoch:
                continue
            try:
                self._release(unit, owner)
            except Exception:
                pass

    def release_later(self, unit, owner, epoch):
        """From a finalizer: release now if no operation of this thread is in progress, else
        when it ends."""
        if epoch != self.epoch or not self.joined:
            return
        self._deferred.append((unit, owner, epoch))
        if getattr(self._local, "depth", 0) == 0:
            if self.lock.acquire(blocking=False):
                try:
                    self._local.depth = 1
                    self._drain()
                finally:
                    self._local.depth = 0
                    self.lock.release()

    def _stall(self):
        try:
            self.reap_dead()
        except Exception:
            pass

    # ------------------------------------------------------------------ paths

    @property
    def path(self):
        return _read_path(self.w, self.w.getu(H_PATH_START))

    # ------------------------------------------------------------------ dead processes

    def reap_dead(self):
        """Releases every process of this heap that is provably gone; returns how many."""
        self._enter()
        try:
            return self._reap_dead()
        finally:
            self._exit()

    def _reap_dead(self):
        table = self.procs
        if table is None:
            return 0
        me = self.tid()
        reaped = 0
        for s in range(1, table.top):
            if s == self.slot:
                continue
            e = table.entry(s)
            if e.state in (PROC_FREE, PROC_CLAIMING):
                continue
            if e.state == PROC_REAPING:
                reaper = table.reaper_of(e)
                reaper_slot = (reaper - 1) // SLOT_SPAN
                if reaper_slot == self.slot:
                    continue
                if 1 <= reaper_slot <= table.cap and table.alive(table.entry(reaper_slot)):
                    continue
                if not table.take_over_reap(e, reaper, me + 1):
                    continue
            else:
                if table.alive(e):
                    continue
                if not table.begin_reap(e, me + 1):
                    continue
            self._release_slot(s)
            table.end_reap(table.entry(s))
            reaped += 1
        return reaped

    def _release_slot(self, s):
        w = self.w
        start = thread_table_start(w)
        cap = w.get(H_THREAD_CAP)
        lo = s * SLOT_SPAN
        hi = lo + SLOT_SPAN
        for i in range(cap):
            at = start + i * THREAD_WORDS
            if w.load(at + T_STATE) == THREAD_FREE:
                continue
            tid = w.load(at + T_THREAD)
            if lo <= tid < hi:
                self._release_thread(tid)
        owner = w.load(H_LOCK) - 1
        if lo <= owner < hi:
            self.alloc.repair_if_owned_by(owner)

    def leave(self):
        """This process leaves the heap (it is exiting): releases every identity of its slot and
        marks the slot exited. Returns True when no other process is live."""
        if self.pid != os.getpid() or self.left:
            return False  # a forked child that never used the heap: nothing of its own to release
        self._enter()
        try:
            table = self.procs
            if table is None or self.left:
                return False
            self.left = True
            w = self.w
            start = thread_table_start(w)
            cap = w.get(H_THREAD_CAP)
            lo = self.slot * SLOT_SPAN
            for i in range(cap):
                at = start + i * THREAD_WORDS
                if w.load(at + T_STATE) == THREAD_FREE:
                    continue
                tid = w.load(at + T_THREAD)
                if lo <= tid < lo + SLOT_SPAN:
                    self._release_thread(tid)
            self.epoch += 1
            table.leave(self.slot)
            self._reap_dead()
            return table.others_alive(self.slot) == 0
        finally:
            self._exit()

    def thread_exited(self, index):
        """A Python thread of this process ended: free its thread-table entry when its ledger
        holds nothing (references it took and other threads still use stay recorded)."""
        if self.pid != os.getpid() or self.left:
            return
        tid = self.slot * SLOT_SPAN + index
        L = self.ledgers.get(tid)
        if L is None or L.slot < 0:
            return
        self._enter()
        try:
            if L.live() == 0:
                self._release_thread(tid)
                del self.ledgers[tid]
        finally:
            self._exit()

    # ------------------------------------------------------------------ blocks

    def allocate(self, payload_bytes, kind, what, zero):
        """Allocates a block holding one reference recorded for the calling thread."""
        self._enter()
        try:
            tid = self.tid()
            L = self.ledger(tid)
            tracked = L.prepare()
            if tracked:
                L.begin(OP_ALLOC, 0, 0)
            try:
                unit, dirty_head, dirty_tail = self.alloc.allocate(
                    payload_bytes, kind, what, L.commit_alloc if tracked else None
                )
            finally:
                L.end()
            gen = self.w.get(unit * WORDS_PER_UNIT + B_GEN)
        finally:
            self._exit()
        byte_offset = (unit + 1) * UNIT
        base = self.w.base
        if zero and dirty_head > 0:
            ctypes.memset(base + byte_offset, 0, dirty_head)
        if zero and dirty_tail > 0:
            ctypes.memset(base + byte_offset + payload_bytes - dirty_tail, 0, dirty_tail)
        return BlockInfo(unit, gen, kind, byte_offset, payload_bytes, tid)

    def inspect(self, unit, generation, kind, kind_name):
        """Reads and checks a block header without changing anything (never outside the heap)."""
        if not isinstance(unit, int) or isinstance(unit, bool) or unit < self.data_start or unit >= self.end:
            raise CorruptError(
                f"Handle names block unit {unit}, outside this heap's blocks [{self.data_start}, {self.end}): "
                "the handle is damaged or forged."
            )
        base = unit * WORDS_PER_UNIT
        w = self.w
        if w.get(base + B_MAGIC) != ALLOC_MAGIC or w.get(base + B_GEN) != generation:
            raise ClosedError(
                f"The {kind_name} this handle names was closed and its memory freed (block {unit}, "
                f"generation {generation}). Keep a reference open (do not close it) until every "
                "receiver has attached."
            )
        verkind = w.get(base + B_VERKIND)
        size = w.getu(base + B_SIZE)
        len_lo = w.getu(base + B_LEN_LO)
        len_hi = w.getu(base + B_LEN_HI)
        byte_length = len_hi * 2**32 + len_lo
        if verkind & 0xFFFF != LAYOUT_VERSION:
            raise CorruptError(
                f"Block {unit} has layout version {verkind & 0xFFFF}; this shmframe reads version {LAYOUT_VERSION}"
            )
        if (
            size < 1
            or unit + size > self.end
            or byte_length > (size - 1) * UNIT
            or w.get(base + B_CHECK) != header_check(verkind, w.get(base + B_GEN), size, len_lo, len_hi)
        ):
            raise CorruptError(
                f"Block {unit} has an inconsistent header (size {size} units, payload {byte_length} bytes)"
            )
        actual = _u(verkind) >> 16
        if actual != kind:
            raise InvalidArgumentError(
                f"Expected a handle of a {kind_name} (kind {kind}), got one of kind {actual} "
                f"({KIND_NAMES.get(actual, 'unknown')}): attach it with the matching class."
            )
        return BlockInfo(unit, generation, kind, (unit + 1) * UNIT, byte_length)

    def retain(self, unit):
        """Adds a reference for the calling thread to a block this process already holds."""
        self._enter()
        try:
            tid = self.tid()
            L = self.ledger(tid)
            L.prepare()
            L.begin(OP_RETAIN, unit, self.w.get(unit * WORDS_PER_UNIT + B_GEN))
            self.w.add_mark(unit * WORDS_PER_UNIT + B_REFS, 1, L.phase_word)
            L.add(unit)
            L.end()
            return tid
        finally:
            self._exit()

    def release(self, unit, owner):
        """Drops one reference recorded for identity ``owner``; the last one frees the block."""
        self._enter()
        try:
            self._release(unit, owner)
        finally:
            self._exit()

    def _release(self, unit, owner):
        L = self.ledger(owner)
        w = self.w
        L.begin(OP_DROP, unit, w.get(unit * WORDS_PER_UNIT + B_GEN))
        L.remove(unit)
        at = unit * WORDS_PER_UNIT + B_REFS
        before = w.dec_mark(at, L.phase_word)
        if before == 1:
            self._destroy(unit)
        L.end()
        if before <= 0:
            w.add(at, 1)
            raise CorruptError(f"Reference count of block {unit} was {before} before a release: released twice?")

    def _destroy(self, unit):
        base = unit * WORDS_PER_UNIT
        kind = self.w.getu(base + B_VERKIND) >> 16
        if kind != KIND_ARRAY:
            dispose_block(kind, self.block(unit))
        self.alloc.free(unit)

    def block(self, unit):
        base = unit * WORDS_PER_UNIT
        w = self.w
        return FreedBlock(self, unit, (unit + 1) * UNIT, w.getu(base + B_LEN_HI) * 2**32 + w.getu(base + B_LEN_LO))

    def share(self, unit):
        """A new reference owned by a ticket, for a handle: returns (ticket slot, serial)."""
        self._enter()
        try:
            slot, serial, L = self.share_open(unit)
            L.end()
            return slot, serial
        finally:
            self._exit()

    def share_open(self, unit):
        """:meth:`share`, leaving the operation recorded as in progress: (slot, serial, ledger).
        Call with the heap lock held (``_enter``) and ``ledger.end()`` once the handle is stored
        where it travels (a queue slot, the names table): if this process dies before that, the
        reaper drops the ticket and its reference instead of leaving a handle nobody has."""
        L = self.ledger(self.tid())
        L.prepare()
        w = self.w
        L.begin(OP_SHARE, unit, w.get(unit * WORDS_PER_UNIT + B_GEN))
        at = unit * WORDS_PER_UNIT + B_REFS
        w.add_mark(at, 1, L.phase_word)
        try:
            slot, serial = self.tickets.create(unit, L.aux_word, L.phase_word)
        except BaseException:
            if w.dec_mark(at, -1) == 1:
                self._destroy(unit)
            L.end()
            raise
        return slot, serial, L

    def adopt(self, unit, generation, ticket, serial, kind, kind_name):
        """Takes the reference a handle carries (or a fresh one if its ticket was used)."""
        self._enter()
        try:
            info = self.inspect(unit, generation, kind, kind_name)
            tid = self.tid()
            info.owner = tid
            L = self.ledger(tid)
            L.prepare()
            L.begin(OP_ADOPT, info.unit, info.generation)
            if self.tickets.consume(ticket, serial, info.unit, L.phase_word):
                L.add(info.unit)
                L.end()
                return info
            L.end()
            self.alloc.lock()
            try:
                self.inspect(unit, generation, kind, kind_name)
                at = info.unit * WORDS_PER_UNIT + B_REFS
                if self.w.load(at) <= 0:
                    raise ClosedError(
                        f"The {kind_name} this handle names is being freed (its last reference was dropped)"
                    )
                L.begin(OP_RETAIN, info.unit, info.generation)
                self.w.add_mark(at, 1, L.phase_word)
            finally:
                self.alloc.unlock()
            L.add(info.unit)
            L.end()
            return info
        finally:
            self._exit()

    def release_ticket(self, unit, ticket, serial):
        """Drops the reference of a handle that will never be attached. True if outstanding."""
        if not isinstance(unit, int) or unit < self.data_start or unit >= self.end:
            return False
        self._enter()
        try:
            tid = self.tid()
            L = self.ledger(tid)
            L.prepare()
            L.begin(OP_ADOPT, unit, self.w.get(unit * WORDS_PER_UNIT + B_GEN))
            if not self.tickets.consume(ticket, serial, unit, L.phase_word):
                L.end()
                return False
            L.add(unit)
            L.end()
            self._release(unit, tid)
            return True
        finally:
            self._exit()

    # ------------------------------------------------------------------ dead identities

    def release_thread(self, tid):
        self._enter()
        try:
            return self._release_thread(tid)
        finally:
            self._exit()

    def _release_thread(self, tid):
        """Drops every reference identity ``tid`` still held (it must be gone). Returns
        (references dropped, whether the allocator was repaired)."""
        w = self.w
        start = thread_table_start(w)
        cap = w.get(H_THREAD_CAP)
        entry = -1
        for i in range(cap):
            at = start + i * THREAD_WORDS
            if w.load(at + T_STATE) != THREAD_FREE and w.load(at + T_THREAD) == tid:
                entry = at
                break
        if entry < 0:
            return 0, self.alloc.repair_if_owned_by(tid)
        references = 0
        to_free = []
        ledgers = []
        repaired = self.alloc.repair_if_owned_by(tid)
        for unit, count in ledger_entries(w, _u(w.load(entry + T_LEDGER))).items():
            if count <= 0 or unit < self.data_start or unit >= self.end:
                continue
            base = unit * WORDS_PER_UNIT
            if w.get(base + B_MAGIC) != ALLOC_MAGIC:
                continue
            kind = w.getu(base + B_VERKIND) >> 16
            if kind == KIND_ARRAY or kind >= INTERNAL_KIND:
                continue
            repair_block(kind, self.block(unit), tid)
        # settle
        counts = ledger_entries(w, _u(w.load(entry + T_LEDGER)))
        pending = resolve_pending(w, entry)
        if pending is not None:
            p_unit, p_count, must_free, orphan = pending
            counts[p_unit] = p_count
            if must_free:
                to_free.append(p_unit)
            if orphan >= 0:
                self.tickets.clear(orphan)
        for unit, count in counts.items():
            if count <= 0 or unit < self.data_start or unit >= self.end:
                continue
            if w.get(unit * WORDS_PER_UNIT + B_MAGIC) != ALLOC_MAGIC:
                continue
            for _ in range(count):
                before = w.sub(unit * WORDS_PER_UNIT + B_REFS, 1)
                if before <= 0:
                    w.add(unit * WORDS_PER_UNIT + B_REFS, 1)
                    break
                references += 1
                if before == 1:
                    to_free.append(unit)
                    break
        others = set()
        for i in range(cap):
            at = start + i * THREAD_WORDS
            if at != entry and w.load(at + T_STATE) != THREAD_FREE:
                others.add(_u(w.load(at + T_LEDGER)))
                others.add(_u(w.load(at + T_LEDGER_NEXT)))
        for field in (T_LEDGER, T_LEDGER_NEXT, T_LEDGER_OLD):
            u = _u(w.load(entry + field))
            if u == 0 or u in ledgers or u in others or u < self.data_start or u >= self.end:
                continue
            base = u * WORDS_PER_UNIT
            if w.get(base + B_MAGIC) == ALLOC_MAGIC and (w.getu(base + B_VERKIND) >> 16) == KIND_LEDGER:
                ledgers.append(u)
        for u in ledgers:
            self.alloc.free(u)
        for k in range(1, THREAD_WORDS):
            w.store(entry + k, 0)
        w.store(entry + T_STATE, THREAD_FREE)
        mine = self.ledgers.get(tid)
        if mine is not None:
            mine.reset()
        for unit in to_free:
            base = unit * WORDS_PER_UNIT
            if w.get(base + B_MAGIC) == ALLOC_MAGIC and w.load(base + B_REFS) == 0:
                self._destroy(unit)
        return references, repaired

    def is_thread_gone(self, tid):
        """True only when identity ``tid`` is provably gone (see core.ts isThreadGone)."""
        if tid < 0 or tid == self.tid():
            return False
        w = self.w
        s = tid // SLOT_SPAN
        if s != self.slot and self.procs is not None:
            if s < 1 or s > self.procs.cap:
                return True
            e = self.procs.entry(s)
            if e.state == PROC_FREE:
                return not _has_thread(w, tid)
            if self.procs.alive(e) and e.state != PROC_REAPING:
                return False
            self.reap_dead()
            return not _has_thread(w, tid)
        if s == self.slot:
            return False  # a thread of this process: its objects may be used by any thread
        if w.load(H_THREAD_OVERFLOW) != 0:
            return False
        return not _has_thread(w, tid)

    def kind_of(self, unit, generation):
        if not isinstance(unit, int) or unit < self.data_start or unit >= self.end:
            raise CorruptError(f"Published entry names block unit {unit}, outside this heap's blocks")
        base = unit * WORDS_PER_UNIT
        if self.w.get(base + B_MAGIC) != ALLOC_MAGIC or self.w.get(base + B_GEN) != generation:
            raise ClosedError(f"The published object (block {unit}) was freed")
        code = self.w.getu(base + B_VERKIND) >> 16
        name = KIND_NAMES.get(code)
        if name is None:
            raise CorruptError(f"Published block {unit} has kind {code}, which no class handles")
        return name

    def ref_count(self, unit):
        return self.w.load(unit * WORDS_PER_UNIT + B_REFS)

    def threads(self):
        w = self.w
        start = thread_table_start(w)
        out = []
        for i in range(w.get(H_THREAD_CAP)):
            at = start + i * THREAD_WORDS
            if w.load(at + T_STATE) != THREAD_FREE:
                out.append(w.load(at + T_THREAD))
        return out


def _has_thread(w, tid):
    start = thread_table_start(w)
    cap = w.get(H_THREAD_CAP)
    for i in range(cap):
        at = start + i * THREAD_WORDS
        if w.load(at + T_STATE) != THREAD_FREE and w.load(at + T_THREAD) == tid:
            return True
    return False


def _has_threads_of(w, s):
    start = thread_table_start(w)
    cap = w.get(H_THREAD_CAP)
    for i in range(cap):
        at = start + i * THREAD_WORDS
        if w.load(at + T_STATE) == THREAD_FREE:
            continue
        if w.load(at + T_THREAD) // SLOT_SPAN == s:
            return True
    return False


def _write_path(w, at, path):
    b = path.encode("utf-8")
    if len(b) > PATH_BYTES:
        raise InvalidArgumentError(f"Expected a heap path of at most {PATH_BYTES} bytes, got {len(b)}")
    w.set(at, len(b))
    for i in range(0, len(b), 4):
        v = 0
        for k in range(4):
            if i + k < len(b):
                v |= b[i + k] << (8 * k)
        w.set(at + 1 + i // 4, v)


def _read_path(w, at):
    n = min(w.getu(at), PATH_BYTES)
    b = bytes((w.getu(at + 1 + (i >> 2)) >> (8 * (i & 3))) & 0xFF for i in range(n))
    return b.decode("utf-8", "replace")
