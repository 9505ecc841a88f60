"""Unit tests of SharedQueue and SharedLock in Python (Node's side is in the integration tests)."""
import threading
import unittest

import numpy as np

import shmframe


class Queue(unittest.TestCase):
    def test_items_round_trip_and_a_freed_queue_releases_its_items(self):
        h = shmframe.Heap.create("16M")
        q = shmframe.SharedQueue.create(h, 8, max_item_bytes=64)
        for item in [None, True, False, 1.5, 7, 2**60, "ünï"]:
            q.put(item)
        self.assertEqual([q.get() for _ in range(7)], [None, True, False, 1.5, 7.0, 2**60, "ünï"])
        arrays = [shmframe.SharedArray.from_numpy(h, np.full(4, i)) for i in range(3)]
        for a in arrays:
            q.put(a)
            a.close()
        self.assertEqual(h.stats()["objects"], 4, "the queue's items hold the arrays")
        first = q.get()
        self.assertEqual(first.numpy().tolist(), [0, 0, 0, 0])
        first.close()
        q.detach()  # the last reference: the two items left are released with the queue
        self.assertEqual(h.stats()["objects"], 0)
        self.assertEqual(h.stats()["handles"], 0)

    def test_timeouts_full_empty_and_close(self):
        h = shmframe.Heap.create("16M")
        q = shmframe.SharedQueue.create(h, 1)
        q.put(1)
        with self.assertRaises(shmframe.QueueFullError):
            q.put(2, timeout=0.05)
        with self.assertRaises(shmframe.QueueFullError):
            q.put_nowait(2)
        self.assertEqual(q.get(), 1)
        with self.assertRaises(shmframe.QueueEmptyError):
            q.get(timeout=0.05)
        with self.assertRaises(shmframe.QueueEmptyError):
            q.get_nowait()
        q.put(3)
        q.close()
        with self.assertRaises(shmframe.QueueClosedError):
            q.put(4)
        self.assertEqual(list(q), [3.0])
        q.detach()
        self.assertEqual(h.stats()["objects"], 0)

    def test_threads_produce_and_consume_with_task_done_and_join(self):
        h = shmframe.Heap.create("32M")
        q = shmframe.SharedQueue.create(h, 4)
        got = []

        def consume():
            for item in q:
                got.append(item)
                q.task_done()

        consumers = [threading.Thread(target=consume) for _ in range(2)]
        for t in consumers:
            t.start()
        for i in range(200):
            q.put(i, timeout=10)
        q.join(timeout=10)
        q.close()
        for t in consumers:
            t.join()
        self.assertEqual(sorted(got), [float(i) for i in range(200)])
        q.detach()


class Lock(unittest.TestCase):
    def test_mutual_exclusion_between_threads_and_owner_rules(self):
        h = shmframe.Heap.create("16M")
        lock = shmframe.SharedLock.create(h)
        counter = shmframe.SharedArray.zeros(h, 1, "i8")
        view = counter.numpy()

        def work():
            for _ in range(300):
                with lock:
                    v = int(view[0])
                    view[0] = v + 1

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(int(view[0]), 900)
        self.assertTrue(lock.acquire(timeout=1))
        with self.assertRaises(shmframe.LockOwnerError):
            lock.acquire()
        other = []
        t = threading.Thread(target=lambda: other.append(lock.try_acquire()))
        t.start()
        t.join()
        self.assertEqual(other, [False])
        lock.release()
        with self.assertRaises(shmframe.LockOwnerError):
            lock.release()
        view = None  # the numpy view goes before the close
        counter.close()
        lock.detach()
        self.assertEqual(h.stats()["objects"], 0)


if __name__ == "__main__":
    unittest.main()
