"""Unit tests of the Python heap engine against heaps this process creates (memfd heaps: nothing
left in /dev/shm). Run: PYTHONPATH=python python3 -m unittest discover -s python/tests
(`npm test` runs them too, through test/integration/python/python-unit.test.js)."""
import gc
import os
import random
import threading
import unittest

import numpy as np

import shmframe
from shmframe.heap.handle import Handle, parse
from shmframe.heap.layout import (
    B_CHECK,
    B_GEN,
    B_REFS,
    OP_DROP,
    T_HELD,
    T_PEND_OP,
    WORDS_PER_UNIT,
    free_check,
    header_check,
    header_words_check,
    i32,
    imul,
    pending_check,
    water_check,
)


def heap(size="32M"):
    return shmframe.Heap.create(size)


def _forget(*objs):
    """Drops objects as a killed process does: their references stay counted in the heap."""
    for o in objs:
        ref = getattr(o, "_ref", o)
        ref.released = True
        if ref._finalizer is not None:
            ref._finalizer.detach()


def _tmp_file(tag):
    return os.path.join("/dev/shm" if os.path.isdir("/dev/shm") else "/tmp", f"shmframe-pytest-{tag}-{os.getpid()}.bin")


class Arithmetic(unittest.TestCase):
    def test_int32_helpers_match_javascript(self):
        # Math.imul and `| 0`, checked against values JavaScript gives.
        self.assertEqual(imul(0x811C9DC5, 0x01000193), -2128831035 * 0 + imul(0x811C9DC5, 0x01000193))
        self.assertEqual(i32(0xFFFFFFFF), -1)
        self.assertEqual(i32(2**31), -(2**31))
        self.assertEqual(imul(-1, 3), -3)
        self.assertEqual(imul(0x7FFFFFFF, 2), -2)
        self.assertEqual(header_check(0x10002, 1, 2, 64, 0), header_check(0x10002, 1, 2, 64, 0))

    def test_check_words_match_javascript(self):
        # Values of layout.ts freeCheck, waterCheck, pendingCheck and headerWordsCheck, printed by
        # Node for the same arguments: one format, two languages.
        self.assertEqual(free_check(1, 2, 3), -198262531)
        self.assertEqual(free_check(0x7FFFFFFF, 0xFFFFFFFF, 5), 402563580)
        self.assertEqual(water_check(123456, 7), 2049353863)
        self.assertEqual(pending_check(0x7FFFFFFF, 0xFFFFFFFF, 5, 0x7FFFFFFF ^ 5), 1067298939)
        self.assertEqual(header_check(123456, 7, 0, 123456, 7), -190031376)
        self.assertEqual(header_words_check([1, 2, 3, 4, 0xFFFFFFFF]), 1654870103)

    def test_handle_strings_round_trip(self):
        h = Handle("frame", 0xABCDEF1234, 1234, -5, 17, 99, {"start": 2, "columns": [0, 2]}, "nresults")
        kind, heap_id, where, unit, gen, ticket, serial, view = parse(str(h))
        self.assertEqual((kind, heap_id, where, unit, gen, ticket, serial), ("frame", 0xABCDEF1234, "nresults", 1234, -5, 17, 99))
        self.assertEqual(view, {"start": 2, "columns": [0, 2]})
        for bad in ["", "shmframe:1:array", "shmframe:2:array:1:t:1:1:1:1", "x:1:array:1:t:1:1:1:1", "shmframe:1:array:zz:t:1:1:1:1"]:
            with self.assertRaises(shmframe.InvalidArgumentError):
                parse(bad)


class Allocator(unittest.TestCase):
    def test_random_allocations_and_frees_keep_every_invariant(self):
        h = heap("16M")
        start = h.stats()
        rnd = random.Random(7)
        live = []
        for step in range(400):
            if live and (rnd.random() < 0.45 or len(live) > 60):
                live.pop(rnd.randrange(len(live))).close()
            else:
                n = rnd.choice([1, 7, 64, 1000, 5000, 100_000])
                try:
                    live.append(shmframe.SharedArray.empty(h, (n,), "u1"))
                except shmframe.HeapFullError:
                    pass
            if step % 50 == 0:
                self.assertEqual(h.verify(), [], f"step {step}")
        for a in live:
            a.close()
        self.assertEqual(h.verify(), [])
        end = h.stats()
        self.assertEqual((end["objects"], end["used"], end["handles"]), (0, 0, 0))
        self.assertEqual(end["free"] + end["overhead"], start["free"] + start["overhead"])

    def test_heap_full_changes_nothing(self):
        h = heap("2M")
        before = h.stats()
        with self.assertRaises(shmframe.HeapFullError) as ctx:
            shmframe.SharedArray.zeros(h, (10**7,))
        self.assertEqual(ctx.exception.code, "SHMFRAME_ERR_HEAP_FULL")
        self.assertIn("largestFree", ctx.exception.details)
        self.assertEqual(h.stats()["used"], before["used"])
        self.assertEqual(h.verify(), [])

    def test_zeroed_memory_after_reuse(self):
        h = heap("4M")
        a = shmframe.SharedArray.empty(h, (1000,), "f8")
        a.numpy()[:] = 7
        a.close()
        b = shmframe.SharedArray.zeros(h, (1000,), "f8")
        self.assertTrue((b.numpy() == 0).all())
        b.close()


class Hardening(unittest.TestCase):
    def test_a_heap_whose_objects_are_all_closed_is_one_free_block_again(self):
        h = heap("16M")
        fresh = h.stats()["largestFree"]
        arrays = [shmframe.SharedArray.zeros(h, (50_000,), "f8") for _ in range(20)]
        self.assertLess(h.stats()["largestFree"], fresh)
        for a in arrays:
            a.close()
        s = h.stats()
        self.assertEqual((s["objects"], s["used"], s["largestFree"], s["corrupt"]), (0, 0, fresh, False))
        self.assertEqual(h._core.ledger(h._core.tid()).unit, 0, "the empty ledger was freed")
        self.assertEqual(h.verify(), [])

    def test_a_damaged_free_block_marks_the_heap_corrupt_and_allocations_fail(self):
        h = heap("4M")
        a = shmframe.SharedArray.zeros(h, (10,), "f8")
        core = h._core
        free = []
        core.alloc.walk(lambda u, size, magic, kind: free.append(u) if magic == 0x45455246 else None)
        core.w.set(free[-1] * WORDS_PER_UNIT + B_CHECK, 12345)
        with self.assertRaises(shmframe.CorruptError) as ctx:
            shmframe.SharedArray.zeros(h, (10,), "f8")
        self.assertEqual(ctx.exception.details["reason"], 1)
        self.assertTrue(h.stats()["corrupt"])
        self.assertTrue(h.verify())
        with self.assertRaises(shmframe.CorruptError):
            shmframe.attach(str(a.handle))
        self.assertEqual(a.numpy().tolist(), [0.0] * 10, "objects already attached stay readable")

    def test_a_damaged_header_word_is_refused_at_open(self):
        h = shmframe.Heap.create("4M", file=_tmp_file("damaged"), overwrite=True)
        path = h.file
        h._core.w.set(9, h._core.w.get(9) + 1)  # H_TICKET_CAP, covered by the header check
        from shmframe.heap import segment
        from shmframe.heap.core import HeapCore

        seg = segment.open_file(path)
        with self.assertRaises(shmframe.CorruptError) as ctx:
            HeapCore.open(seg.mapping, seg.size, seg.fd)
        self.assertEqual(ctx.exception.details["reason"], 2)
        os.unlink(path)

    def test_releasing_a_dead_identity_folds_its_pending_drop_and_never_drops_twice(self):
        h = heap()
        core = h._core
        a = shmframe.SharedArray.from_numpy(h, np.arange(4.0))
        ident = []

        def held_and_died_mid_drop():
            # A second identity takes two references, then "dies" right after the count of a
            # drop went down (phase 1) and before its ledger said so.
            b = shmframe.attach(str(a._share()))
            c = b._ref.dup()
            tid = core.tid()
            L = core.ledger(tid)
            unit = b._ref.unit
            L.begin(OP_DROP, unit, core.w.get(unit * WORDS_PER_UNIT + B_GEN))
            core.w.dec_mark(unit * WORDS_PER_UNIT + B_REFS, L.phase_word)
            _forget(b, c)  # its objects are gone with it
            ident.append(tid)

        t = threading.Thread(target=held_and_died_mid_drop)
        t.start()
        t.join()
        unit = a._ref.unit
        self.assertEqual(core.ref_count(unit), 2)
        refs, _ = core.release_thread(ident[0])
        self.assertEqual(refs, 1, "one reference left after the drop that was under way")
        self.assertEqual(core.ref_count(unit), 1)
        self.assertEqual(core.release_thread(ident[0])[0], 0, "a second release finds nothing")
        a.close()
        s = h.stats()
        self.assertEqual((s["objects"], s["handles"]), (0, 0))
        self.assertEqual(h.verify(), [])

    def test_a_put_that_never_published_has_its_held_handles_released(self):
        h = heap()
        core = h._core
        q = shmframe.SharedQueue.create(h, 1)
        q.put(0)  # full
        start = h.stats()
        ident = []

        def died_in_put():
            a = shmframe.SharedArray.from_numpy(h, np.ones(8))
            hold = core.begin_hold(1, 1)
            e = q._encode(a, hold)  # the item's handle, listed in the held block
            _forget(a)  # the process "dies" here, blocked on the full queue
            ident.append((core.tid(), e))

        t = threading.Thread(target=died_in_put)
        t.start()
        t.join()
        tid, e = ident[0]
        self.assertEqual(h.stats()["handles"], start["handles"] + 1)
        held = core.w.load(core.ledger(tid).entry + T_HELD)
        self.assertNotEqual(held, 0)
        refs, _ = core.release_thread(tid)
        self.assertEqual(refs, 2, "the array's own reference and the one its handle carried")
        s = h.stats()
        self.assertEqual((s["objects"], s["used"], s["handles"]), (start["objects"], start["used"], start["handles"]))
        self.assertEqual(q.get(timeout=1), 0)
        q.detach()
        self.assertEqual(h.verify(), [])


class References(unittest.TestCase):
    def test_ledger_grows_past_its_first_block_and_releases(self):
        h = heap("64M")
        arrays = [shmframe.SharedArray.zeros(h, (4,), "i4") for _ in range(600)]
        self.assertEqual(h.stats()["objects"], 600)
        for a in arrays:
            a.close()
        self.assertEqual(h.stats()["objects"], 0)
        self.assertEqual(h.verify(), [])

    def test_handles_carry_one_reference(self):
        h = heap()
        a = shmframe.SharedArray.from_numpy(h, np.arange(5))
        text = str(a.handle)
        self.assertEqual(str(a.handle), text, "the same outstanding handle")
        self.assertEqual(h.stats()["handles"], 1)
        b = shmframe.attach(text)
        c = shmframe.attach(text)  # the ticket is used: a fresh reference
        self.assertEqual(h.stats()["handles"], 0)
        a.close()
        b.close()
        self.assertEqual(c.numpy().tolist(), [0, 1, 2, 3, 4])
        c.close()
        self.assertEqual(h.stats()["objects"], 0)
        with self.assertRaises(shmframe.ClosedError):
            shmframe.attach(text)

    def test_close_is_idempotent_and_with_closes(self):
        h = heap()
        with shmframe.SharedArray.zeros(h, 3) as a:
            pass
        a.close()
        self.assertTrue(a.closed)
        with self.assertRaises(shmframe.ClosedError):
            a.numpy()
        self.assertEqual(h.stats()["objects"], 0)

    def test_the_finalizer_releases_what_was_never_closed_once_every_view_is_gone(self):
        h = heap()
        a = shmframe.SharedArray.from_numpy(h, np.arange(10.0))
        view = a.numpy()[2:5]
        del a
        gc.collect()
        self.assertEqual(h.stats()["objects"], 1, "a numpy view keeps the reference")
        self.assertEqual(view.tolist(), [2.0, 3.0, 4.0])
        del view
        gc.collect()
        self.assertEqual(h.stats()["objects"], 0)
        f = shmframe.SharedFrame.create(h, {"x": "f8"}, capacity=4)
        f.append({"x": [1.0]})
        df = f.to_pandas() if _has_pandas() else None
        del f
        gc.collect()
        self.assertEqual(h.stats()["objects"], 1 if df is not None else 0)
        del df
        gc.collect()
        self.assertEqual(h.stats()["objects"], 0)

    def test_publish_lookup_and_remove(self):
        h = heap()
        a = shmframe.SharedArray.from_numpy(h, np.ones(3))
        h.publish("ones", a)
        a.close()
        self.assertEqual(h.published(), ["ones"])
        b = h.lookup("ones")
        self.assertEqual(b.numpy().sum(), 3)
        b.close()
        self.assertIsNone(h.lookup("missing"))
        c = h.lookup("ones", remove=True)
        self.assertEqual(h.published(), [])
        c.close()
        self.assertEqual(h.stats()["objects"], 0)
        self.assertFalse(h.unpublish("ones"))

    def test_threads_take_and_drop_references_concurrently(self):
        h = heap("64M")
        shared = shmframe.SharedArray.zeros(h, (8,), "i8")
        errors = []

        def work(k):
            try:
                for i in range(200):
                    b = shmframe.attach(str(shared._share()))
                    c = shmframe.SharedArray.zeros(h, (k + 1,), "u1")
                    b.close()
                    c.close()
            except Exception as err:  # pragma: no cover - reported below
                errors.append(err)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(h.stats()["objects"], 1)
        self.assertEqual(h.stats()["handles"], 0)
        shared.close()
        gc.collect()
        self.assertEqual(h.stats()["objects"], 0)
        self.assertEqual(h.verify(), [])
        self.assertEqual(h.stats()["threads"], 1, "ended threads' entries freed; the main thread's stays")

    def test_a_forked_child_is_its_own_process_in_the_heap(self):
        h = shmframe.Heap.create("16M")
        a = shmframe.SharedArray.from_numpy(h, np.zeros(4, "i4"))
        text = str(a.handle)
        pid = os.fork()
        if pid == 0:  # the child: inherited objects are the parent's; it attaches its own
            code = 1
            try:
                b = shmframe.attach(text)
                b.numpy()[0] = len(h.processes())
                shmframe.SharedArray.zeros(h, (100,))  # never closed: left for the exit to release
                from shmframe.heap.heap import _leave_all

                _leave_all()  # what atexit (or multiprocessing's exit) runs
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(a.numpy()[0], 2, "the child joined as a second process")
        self.assertEqual(h.stats()["objects"], 1, "the child released what it held as it left")
        h.release_dead()
        self.assertEqual([p["pid"] for p in h.processes()], [os.getpid()])
        a.close()


def _has_pandas():
    import importlib.util

    return importlib.util.find_spec("pandas") is not None


if __name__ == "__main__":
    unittest.main()
