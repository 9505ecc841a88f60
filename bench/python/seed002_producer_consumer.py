#!/usr/bin/env python3
"""Seed 002's producer-consumer, as written there: camera processes put SharedNumpyArray
descriptors on a bounded multiprocessing.Queue (put timeout 2 s, skip the frame when full, close
the local copy), matcher processes keep the newest frame per camera (close + unlink the old one),
compare all camera pairs every 8 frames with the seed's similarity (d1 @ d2.T / cols > 0.4) and
quit after 3 s without items (the seed's "done" signal).

Only differences: sizes, the capture delay and the number of rows compared are arguments (the
Node case passes the same ones), the totals are printed as one JSON line, and the script survives
what the seed's close/unlink discipline runs into on Linux before Python 3.13: every camera
process starts its own resource_tracker, which unlinks the segments that camera created when it
exits, also those still in the queue or held by a matcher (CPython bpo-39959). A frame whose
segment is gone cannot be received ("lost"), and unlinking it again fails ("unlinkFailures");
the seed would crash there and the main process would wait forever.

usage: seed002_producer_consumer.py cameras frames rows cols capacity matchers capture_ms match_rows
"""
import json
import multiprocessing as mp
import random
import sys
import time
from multiprocessing.shared_memory import SharedMemory
from queue import Empty, Full

import numpy as np


class SharedNumpyArray:
    """The seed's wrapper: the array lives in a SharedMemory segment; pickling sends its name."""

    def __init__(self, array):
        self._shared = SharedMemory(create=True, size=array.nbytes)
        self._dtype, self._shape = array.dtype, array.shape
        res = np.ndarray(self._shape, dtype=self._dtype, buffer=self._shared.buf)
        res[:] = array[:]

    def read(self):
        return np.ndarray(self._shape, self._dtype, buffer=self._shared.buf)

    def close(self):
        self._shared.close()

    def unlink(self):
        self._shared.unlink()


def camera_capture(rows, cols, capture_ms):
    time.sleep(random.random() * capture_ms / 1000)
    return np.random.random(size=(rows, cols))


def object_matcher(frame, camera_objects, match_rows):
    pairs = matches = 0
    for i in range(len(camera_objects) - 1):
        if camera_objects[i] is None:
            continue
        for j in range(i + 1, len(camera_objects)):
            if camera_objects[j] is None:
                continue
            d1 = camera_objects[i].read()[:match_rows]
            d2 = camera_objects[j].read()[:match_rows]
            similarity = (d1 @ d2.T) / d1.shape[1]
            matches += int(np.sum(similarity > 0.4))
            pairs += 1
    return pairs, matches


def camera_process(camera_idx, queue, frames, rows, cols, capture_ms, results):
    skips = 0
    for i in range(frames):
        objects = SharedNumpyArray(camera_capture(rows, cols, capture_ms))
        try:
            queue.put((camera_idx, i, objects), block=True, timeout=2)
        except Full:
            skips += 1
        finally:
            objects.close()
    results.put(("camera", frames - skips, skips))


def unlink(objects):
    objects.close()
    try:
        objects.unlink()
        return 0
    except FileNotFoundError:
        return 1


def matching_process(num_cams, queue, match_rows, results):
    received = match_events = pairs = matches = lost = unlink_failures = 0
    camera_objects = [None] * num_cams
    try:
        while True:
            try:
                camera, frame, objects = queue.get(True, timeout=3)
            except FileNotFoundError:
                lost += 1  # its segment was unlinked when its camera process exited
                continue
            received += 1
            if camera_objects[camera] is not None:
                unlink_failures += unlink(camera_objects[camera])
            camera_objects[camera] = objects
            if frame % 8 == 0:
                p, m = object_matcher(frame, camera_objects, match_rows)
                match_events += 1
                pairs += p
                matches += m
    except Empty:
        pass
    for c in camera_objects:
        if c is not None:
            unlink_failures += unlink(c)
    results.put(("matcher", received, match_events, pairs, matches, lost, unlink_failures))


def main():
    cameras, frames, rows, cols, capacity, num_matchers, capture_ms, match_rows = map(
        int, sys.argv[1:9]
    )
    start = time.time()
    queue = mp.Queue(maxsize=capacity)
    results = mp.Queue()
    matchers = [
        mp.Process(target=matching_process, args=(cameras, queue, match_rows, results))
        for _ in range(num_matchers)
    ]
    for m in matchers:
        m.start()
    cams = [
        mp.Process(
            target=camera_process,
            args=(i, queue, frames, rows, cols, capture_ms, results),
        )
        for i in range(cameras)
    ]
    for c in cams:
        c.start()
    for c in cams:
        c.join()
    producing = time.time() - start
    for m in matchers:
        m.join()
    queue.close()
    wall = time.time() - start
    out = {
        "produced": 0,
        "skipped": 0,
        "received": 0,
        "matchEvents": 0,
        "pairs": 0,
        "matches": 0,
        "lost": 0,
        "unlinkFailures": 0,
    }
    for _ in range(cameras + num_matchers):
        r = results.get()
        if r[0] == "camera":
            out["produced"] += r[1]
            out["skipped"] += r[2]
        else:
            out["received"] += r[1]
            out["matchEvents"] += r[2]
            out["pairs"] += r[3]
            out["matches"] += r[4]
            out["lost"] += r[5]
            out["unlinkFailures"] += r[6]
    out["wallSeconds"] = wall
    out["producingSeconds"] = producing
    print(json.dumps(out))


if __name__ == "__main__":
    main()
