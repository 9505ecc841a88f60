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
from .allocator import Allocator, corrupt_heap_error
from .futex import ProcessLink
from .held import Hold, append_held, armed_records, format_held, held_bytes
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
    CORRUPT_HEADER,
    CORRUPT_REFS,
    CORRUPT_THREADS,
    FIXED_WORDS,
    H_BACKING,
    H_BOOT,
    H_CORRUPT,
    H_DATA_START,
    H_END,
    H_HEADER_CHECK,
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
    KIND_HELD,
    KIND_LEDGER,
    KIND_NAMES,
    LAYOUT_VERSION,
    NAME_WORDS,
    NAMES_CAPACITY,
    OP_ADOPT,
    OP_ALLOC,
    OP_DROP,
    OP_NONE,
    OP_RETAIN,
    OP_SHARE,
    PATH_BYTES,
    PROC_CAPACITY,
    PROC_CLAIMING,
    PROC_FREE,
    PROC_REAPING,
    PROC_WORDS,
    SLOT_SPAN,
    T_HELD,
    T_LEDGER,
    T_LEDGER_NEXT,
    T_LEDGER_OLD,
    T_PEND_OP,
    T_STATE,
    T_THREAD,
    THREAD_FREE,
    THREAD_VISITING,
    THREAD_WORDS,
    TICKET_WORDS,
    UNIT,
    WORDS_PER_UNIT,
    header_check,
    header_words_check,
)
from .ledger import (
    INVALID,
    Ledger,
    ThreadTable,
    drain_ledger,
    ledger_capacity,
    ledger_entries,
    resolve_pending,
    set_ledger_count,
)
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
        ticket_cap = w.getu(H_TICKET_CAP)
        # The thread table and block range, read once from the checked header.
        self.table = ThreadTable(
            H_TABLES + ticket_cap * TICKET_WORDS, w.getu(H_THREAD_CAP), self.data_start, self.end
        )
        self.alloc = Allocator(w, self.tid, self.data_start, self.end, _LockOwners(self))
        self.tickets = Tickets(w)
        self.ledgers = {}
        # Depth of drops in progress (a dispose hook dropping references of its own).
        self._releasing = 0
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
            L = Ledger(self.w, self.alloc, tid, self.table)
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
            w.set(proc_start, 1)  # highest slot claimed + 1
        w.set(H_DATA_START, data_start)
        w.set(H_END, end)
        Allocator.format(w, data_start, end)
        w.set(H_HEADER_CHECK, header_words_check([HEAP_MAGIC if i == H_MAGIC else w.get(i) for i in FIXED_WORDS]))
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
        ticket_cap = w.getu(H_TICKET_CAP)
        thread_cap = w.getu(H_THREAD_CAP)
        table_words = H_TABLES + ticket_cap * TICKET_WORDS + thread_cap * THREAD_WORDS
        proc_start = w.getu(H_PROC_START)
        proc_cap = w.getu(H_PROC_CAP)
        names_start = w.getu(H_NAMES_START)
        path_start = w.getu(H_PATH_START)
        backing = w.get(H_BACKING)
        if (
            w.get(H_HEADER_CHECK) != header_words_check([w.get(i) for i in FIXED_WORDS])
            or hsize != size
            or end * UNIT >= hsize
            or data_start >= end
            or not (ticket_cap >= 1 and thread_cap >= 1)
            or table_words > data_start * WORDS_PER_UNIT
            or backing < 0
            or backing > 3
            or proc_cap > PROC_CAPACITY
            or (backing != BACKING_THREAD) != (proc_cap > 0)
            or proc_start < table_words
            or proc_start + (proc_cap + 1) * PROC_WORDS > names_start + (PROC_WORDS if proc_cap == 0 else 0)
            or names_start + w.getu(H_NAMES_CAP) * NAME_WORDS > path_start
            or (path_start + 1 + PATH_BYTES // 4) * 4 > data_start * UNIT
        ):
            # Its magic and version say it is a heap of this layout: tell every process it is damaged.
            w.cas(H_CORRUPT, 0, CORRUPT_HEADER)
            raise CorruptError(
                f"Heap header is inconsistent with its {size}-byte mapping (its fixed words: size, bounds, "
                "table sizes, do not agree with the mapping or with their check word): the heap was "
                "overwritten and is now marked corrupt. Objects already attached elsewhere stay readable: "
                "copy out what you need and create a new heap.",
                {"reason": CORRUPT_HEADER},
            )
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
        """Releases every identity recorded for process slot ``s`` (a process that is gone)."""
        w = self.w
        lo = s * SLOT_SPAN
        hi = lo + SLOT_SPAN
        # The allocator first: releasing the identities frees their ledgers, which needs the lock
        # one of them may have died holding (also one that had no ledger, a visitor).
        owner = w.load(H_LOCK) - 1
        if lo <= owner < hi:
            self._repair_if_owned_by(owner)
        start = self.table.start
        for i in range(self.table.cap):
            at = start + i * THREAD_WORDS
            if w.load(at + T_STATE) == THREAD_FREE:
                continue
            tid = w.load(at + T_THREAD)
            if lo <= tid < hi:
                self._release_thread(tid)

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
            start = self.table.start
            cap = self.table.cap
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

    # ------------------------------------------------------------------ checks

    @property
    def corrupt(self):
        """0, or why the heap was marked corrupt."""
        return self.w.load(H_CORRUPT)

    def check_usable(self):
        """Raises SHMFRAME_ERR_CORRUPT when the heap was marked corrupt: no new block, no attach."""
        reason = self.w.load(H_CORRUPT)
        if reason != 0:
            raise corrupt_heap_error(reason)

    # ------------------------------------------------------------------ blocks

    def allocate(self, payload_bytes, kind, what, zero):
        """Allocates a block holding one reference recorded for the calling thread."""
        self._enter()
        try:
            self.check_usable()
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

    # Every reference operation below is recorded in the identity's table entry (begin / a phase
    # set atomically with the count change / end), so that if the process is killed anywhere in
    # the middle, release_thread knows exactly which references it held. See ledger.py.

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
        at = unit * WORDS_PER_UNIT + B_REFS
        L.begin(OP_DROP, unit, w.get(unit * WORDS_PER_UNIT + B_GEN))
        try:
            L.remove(unit)
            before = w.dec_mark(at, L.phase_word)
            if before == 1:
                # The count says that was the last reference, yet the ledger still holds one: the
                # count was lowered behind our back, and freeing would hand out memory in use.
                if L.count(unit) > 0:
                    w.add(at, 1)
                    self.alloc.mark_corrupt(CORRUPT_REFS)
                    raise CorruptError(
                        f"Reference count of block {unit} reached 0 while this process still holds "
                        f"{L.count(unit)} reference(s) to it: the count was overwritten. The block is kept "
                        "and the heap marked corrupt.",
                        {"reason": CORRUPT_REFS},
                    )
                # A kind's dispose hook may drop more references (a queue's items): the ledger's
                # housekeeping waits for the outermost drop.
                self._releasing += 1
                try:
                    self._destroy(unit)
                finally:
                    self._releasing -= 1
        finally:
            L.end()
        if before <= 0:
            w.add(at, 1)
            raise CorruptError(f"Reference count of block {unit} was {before} before a release: released twice?")
        if self._releasing == 0:
            L.maintain(before == 1)

    def _destroy(self, unit):
        """Runs the kind's dispose hook and frees a block whose count reached zero."""
        base = unit * WORDS_PER_UNIT
        kind = self.w.getu(base + B_VERKIND) >> 16
        if kind != KIND_ARRAY:
            # The hook reads the payload by the header's length: only through an intact header.
            self.alloc.check_allocated(unit)
            dispose_block(kind, self.block(unit))
        self.alloc.free(unit)

    def block(self, unit):
        base = unit * WORDS_PER_UNIT
        w = self.w
        return FreedBlock(self, unit, (unit + 1) * UNIT, w.getu(base + B_LEN_HI) * 2**32 + w.getu(base + B_LEN_LO))

    def share(self, unit):
        """A new reference owned by a ticket, for a handle: returns (ticket slot, serial). While a
        queue put collects its item's handles (held.py), the ticket is listed in the put's held
        block in the same step that ends this operation."""
        self._enter()
        try:
            slot, serial, L = self.share_open(unit)
            gen = self.w.get(unit * WORDS_PER_UNIT + B_GEN)
            if not append_held(self.id, unit, gen, slot, serial, self.w, L.op_word):
                L.end()
            return slot, serial
        finally:
            self._exit()

    def share_open(self, unit):
        """:meth:`share`, leaving the operation recorded as in progress: (slot, serial, ledger).
        Call with the heap lock held (``_enter``) and ``ledger.end()`` once the handle is stored
        where it travels (the names table): if this process dies before that, the reaper drops
        the ticket and its reference instead of leaving a handle nobody has."""
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

    def begin_hold(self, groups, records):
        """Starts a hold (held.py) in this heap, the queue's, for a put of ``groups`` items making
        ``records`` handles: an internal block named in the calling thread's table entry, so that
        if the process dies before the put publishes, release_thread releases those handles.
        None when this thread has no table entry here (the thread table overflowed)."""
        self._enter()
        try:
            L = self.ledger(self.tid())
            if not L.prepare():
                return None
            word = L.held_word
            w = self.w
            if word < 0 or w.load(word) != 0:
                return None  # one hold per thread and heap
            nbytes = held_bytes(groups, records)
            unit, _, _ = self.alloc.allocate(nbytes, KIND_HELD, "a queue put in progress", lambda u, g: w.store(word, u))
            base = (unit + 1) * WORDS_PER_UNIT
            w.zero(base, nbytes // 4)
            format_held(w, base, groups, records)
        finally:
            self._exit()

        def end():
            self._enter()
            try:
                self.alloc.free(unit)
                w.store(word, 0)
            finally:
                self._exit()

        return Hold(w, base, end)

    def adopt(self, unit, generation, ticket, serial, kind, kind_name):
        """Takes the reference a handle carries (or a fresh one if its ticket was used)."""
        self._enter()
        try:
            self.check_usable()
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
            # Ticket already used: a new reference under the allocator lock, where no block can be
            # freed or re-split between the check and the increment.
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
        (references dropped, whether the allocator was repaired). Its table entry and ledger are
        checked before use: a record that fails its check is skipped (the heap is marked
        corrupt), so a damaged record can leak references but never drop one it did not hold."""
        w = self.w
        start = self.table.start
        cap = self.table.cap
        entry = -1
        for i in range(cap):
            at = start + i * THREAD_WORDS
            if w.load(at + T_STATE) != THREAD_FREE and w.load(at + T_THREAD) == tid:
                entry = at
                break
        # First make the allocator usable again if the identity died holding its lock.
        repaired = self._repair_if_owned_by(tid)
        if entry < 0:
            return 0, repaired
        # Its ledger, only if it is an intact ledger block stamped with this identity.
        ledger = _u(w.load(entry + T_LEDGER))
        ledger_cap = 0
        if ledger != 0:
            ledger_cap = ledger_capacity(w, ledger, tid + 1, self.table)
            if ledger_cap < 0:
                self.alloc.mark_corrupt(CORRUPT_THREADS)
                ledger = 0

        def in_heap(unit):
            return self.data_start <= unit < self.end

        # Let each kind repair what the identity left half-done (a lock it held, a queue
        # operation it was in) while its references still keep the blocks alive.
        for unit, count in ledger_entries(w, ledger, ledger_cap).items():
            if count <= 0 or not in_heap(unit) or not self.alloc.allocated_intact(unit):
                continue
            kind = w.getu(unit * WORDS_PER_UNIT + B_VERKIND) >> 16
            if kind == KIND_ARRAY or kind >= INTERNAL_KIND:
                continue
            repair_block(kind, self.block(unit), tid)
        references = 0
        to_free = []
        # References held outside the ledger (a pending count the ledger had no slot for).
        extra = {}
        pending = resolve_pending(w, entry, self.table)
        if pending is INVALID:
            self.alloc.mark_corrupt(CORRUPT_THREADS)
        elif pending is not None:
            # Fold the record into the ledger, then clear it: a release that stops after this
            # point and is done again finds the count in the ledger.
            if not set_ledger_count(w, ledger, ledger_cap, pending.unit, pending.count):
                extra[pending.unit] = pending.count
            if pending.must_free:
                # Freed before the record is cleared, for an array (see drop below): a releaser
                # killed in between leaves the record, and the next one finds the block gone.
                base = pending.unit * WORDS_PER_UNIT
                if (
                    w.getu(base + B_VERKIND) >> 16 == KIND_ARRAY
                    and w.get(base + B_MAGIC) == ALLOC_MAGIC
                    and w.load(base + B_REFS) == 0
                ):
                    self._quietly(lambda u=pending.unit: self._destroy(u))
                else:
                    to_free.append(pending.unit)
            if pending.orphan_ticket >= 0:
                self.tickets.clear(pending.orphan_ticket)
            w.store(entry + T_PEND_OP, OP_NONE)

        def drop(unit, count):
            nonlocal references
            if count <= 0 or not in_heap(unit):
                return
            at = unit * WORDS_PER_UNIT + B_REFS
            if w.get(unit * WORDS_PER_UNIT + B_MAGIC) != ALLOC_MAGIC:
                return
            # One compare-and-swap, never below zero.
            while True:
                before = w.load(at)
                if before <= 0:
                    break
                n = min(count, before)
                if w.cas(at, before, before - n) != before:
                    continue
                references += n
                if before == n:
                    # An array (no dispose hook) is freed at once, as Node does: a releaser
                    # killed before the end would leave it at count 0 with nobody to free it.
                    if w.getu(unit * WORDS_PER_UNIT + B_VERKIND) >> 16 == KIND_ARRAY:
                        self._quietly(lambda u=unit: self._destroy(u))
                    else:
                        to_free.append(unit)
                break

        # Each entry is zeroed before its references are dropped.
        drain_ledger(w, ledger, ledger_cap, drop)
        for unit, count in extra.items():
            drop(unit, count)
        # Its ledger blocks, including one being built or replaced when it died; never one that
        # another identity has taken as its own since.
        others = set()
        for i in range(cap):
            at = start + i * THREAD_WORDS
            if at != entry and w.load(at + T_STATE) != THREAD_FREE:
                others.add(_u(w.load(at + T_LEDGER)))
                others.add(_u(w.load(at + T_LEDGER_NEXT)))
                others.add(_u(w.load(at + T_LEDGER_OLD)))
        ledgers = []
        for field in (T_LEDGER, T_LEDGER_NEXT, T_LEDGER_OLD):
            u = _u(w.load(entry + field))
            if u == 0 or u in ledgers or u in others:
                continue
            if in_heap(u) and self._is_ledger_block(u):
                ledgers.append(u)
        for u in ledgers:
            self._quietly(lambda u=u: self.alloc.free(u))
        references += self._release_held(entry, start, cap)
        for k in range(1, THREAD_WORDS):
            w.store(entry + k, 0)
        w.store(entry + T_STATE, THREAD_FREE)
        mine = self.ledgers.get(tid)
        if mine is not None:
            mine.reset()
        for unit in to_free:
            base = unit * WORDS_PER_UNIT
            if w.get(base + B_MAGIC) == ALLOC_MAGIC and w.load(base + B_REFS) == 0:
                self._quietly(lambda unit=unit: self._destroy(unit))
        return references, repaired

    def _repair_if_owned_by(self, tid):
        """repair_if_owned_by, for a release: a chain that fails its checks leaves the heap marked."""
        out = [False]

        def run():
            out[0] = self.alloc.repair_if_owned_by(tid)

        self._quietly(run)
        return out[0]

    @staticmethod
    def _quietly(fn):
        """Runs ``fn``; a SHMFRAME_ERR_CORRUPT it raises has marked the heap already, and a
        release goes on with what it can do safely."""
        try:
            fn()
        except CorruptError:
            pass

    def _is_ledger_block(self, unit):
        """An intact ledger-kind block."""
        return self.alloc.allocated_intact(unit) and (self.w.getu(unit * WORDS_PER_UNIT + B_VERKIND) >> 16) == KIND_LEDGER

    def _visit(self):
        """Makes the calling thread findable in the thread table while it holds the allocator
        lock without a table entry of its own (THREAD_VISITING). Returns the entry's word index,
        or -1."""
        L = self.ledgers.get(self.tid())
        if L is not None and L.slot >= 0:
            return -1
        w = self.w
        if w.load(H_THREAD_OVERFLOW) != 0:
            return -1
        start = self.table.start
        cap = self.table.cap
        states = w.mv[start : start + cap * THREAD_WORDS : THREAD_WORDS]
        for i in range(cap):
            if states[i] != THREAD_FREE:
                continue
            at = start + i * THREAD_WORDS
            if w.cas(at + T_STATE, THREAD_FREE, THREAD_VISITING) == THREAD_FREE:
                w.store(at + T_THREAD, self.tid())
                return at
        # No room to be findable: from now on no owner is provably gone.
        w.store(H_THREAD_OVERFLOW, 1)
        return -1

    def _leave_visit(self, at):
        w = self.w
        if w.load(at + T_STATE) != THREAD_VISITING:
            return
        for k in range(1, THREAD_WORDS):
            w.store(at + k, 0)
        w.store(at + T_STATE, THREAD_FREE)

    def _release_held(self, entry, start, cap):
        """Releases the handles a dead identity's queue put still held (its held block, T_HELD,
        groups not yet published) and frees the block; returns how many were released."""
        w = self.w
        unit = _u(w.load(entry + T_HELD))
        if unit < self.data_start or unit >= self.end:
            return 0
        base = unit * WORDS_PER_UNIT
        if w.get(base + B_MAGIC) != ALLOC_MAGIC or (w.getu(base + B_VERKIND) >> 16) != KIND_HELD:
            return 0
        # Freed by its thread and taken by another thread's put since: not this identity's.
        for i in range(cap):
            at = start + i * THREAD_WORDS
            if at != entry and w.load(at + T_STATE) != THREAD_FREE and _u(w.load(at + T_HELD)) == unit:
                return 0
        nbytes = w.getu(base + B_LEN_HI) * 2**32 + w.getu(base + B_LEN_LO)
        released = 0
        for r in armed_records(w, base + WORDS_PER_UNIT, nbytes // 4):
            core = self if r.heap_id == self.id else HeapCore.resolve(r.heap_id)
            try:
                if core is not None and core.release_ticket(r.unit, r.slot, r.serial):
                    released += 1
            except Exception:
                pass  # a block freed and reused since cannot match its ticket
        self._quietly(lambda: self.alloc.free(unit))
        w.store(entry + T_HELD, 0)
        return released

    # The engine of another heap this process has mapped, by id (set by heap.py).
    resolve = staticmethod(lambda heap_id: None)

    def is_thread_gone(self, tid):
        """True only when identity ``tid`` is provably gone (see core.ts isThreadGone). A thread of
        another process is gone once its process is; a negative id names no thread at all."""
        if tid == self.tid():
            return False
        if not isinstance(tid, int) or tid < 0:
            return True
        w = self.w
        s = tid // SLOT_SPAN
        if s != self.slot and self.procs is not None:
            # A dead process's threads run no code even while their entries wait to be released.
            if s < 1 or s > self.procs.cap:
                return True
            e = self.procs.entry(s)
            if e.state in (PROC_FREE, PROC_REAPING):
                return True
            if e.state == PROC_CLAIMING or self.procs.alive(e):
                return False
            self.reap_dead()
            return True
        if s == self.slot:
            # A thread of this process: its objects may be used by any of its threads, and every
            # heap operation here runs under the process's heap lock.
            return False
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
        """Identities with an entry in the thread table (visitors excluded)."""
        w = self.w
        start = self.table.start
        out = []
        for i in range(self.table.cap):
            at = start + i * THREAD_WORDS
            state = w.load(at + T_STATE)
            if state != THREAD_FREE and state != THREAD_VISITING:
                out.append(w.load(at + T_THREAD))
        return out


class _LockOwners:
    """Who owns the allocator lock, as the heap sees it (allocator.ts LockOwners)."""

    __slots__ = ("core",)

    def __init__(self, core):
        self.core = core

    def gone(self, owner):
        return self.core.is_thread_gone(owner)

    def visit(self):
        return self.core._visit()

    def leave(self, token):
        self.core._leave_visit(token)


def _table_start(w):
    return H_TABLES + w.getu(H_TICKET_CAP) * TICKET_WORDS


def _has_thread(w, tid):
    start = _table_start(w)
    cap = w.get(H_THREAD_CAP)
    for i in range(cap):
        at = start + i * THREAD_WORDS
        if w.load(at + T_STATE) != THREAD_FREE and w.load(at + T_THREAD) == tid:
            return True
    return False


def _has_threads_of(w, s):
    start = _table_start(w)
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
