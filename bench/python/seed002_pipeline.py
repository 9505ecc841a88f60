#!/usr/bin/python3
"""Seed 002, part 2: the producer-consumer pipeline, as the seed writes it.

`cameras` producer processes each capture `frames` frames (a random sleep of up to `delay`
seconds, then a rows x cols f8 matrix of object descriptors), wrap each in the seed's
SharedNumpyArray and put it in one mp.Queue(maxsize) with the seed's put timeout (a frame that
still finds the queue full is skipped). `matchers` consumer processes get with the seed's get
timeout (a quiet queue for that long means "producers are done"), keep the latest descriptors
per camera (close + unlink the previous ones) and, every `match_every` frames, match all camera
pairs by cosine similarity (d1 @ d2.T / cols > 0.4).

The seed prints its matches and skips; here they are counted and reported in the JSON instead
(over a second mp.Queue), so stdout holds one JSON object.

One line is added to the seed: the parent starts multiprocessing's resource tracker before it
forks. Without it (Linux, fork start method, Python < 3.13) every child starts a tracker of its
own, and when a camera process exits its tracker unlinks every segment that camera created and
did not unlink itself, i.e. the frames still in the queue or held by a matcher: the matchers
then crash with FileNotFoundError. (The spawn start method, the seed author's likely setup,
shares the parent's tracker the same way.)

usage: seed002_pipeline.py [--cameras 5] [--frames 72] [--rows 5000] [--cols 250] [--maxsize 50]
                           [--matchers 2] [--put-timeout 2] [--get-timeout 3] [--delay 1]
                           [--match-every 8] [--seed 0]
"""
import argparse
import json
import multiprocessing as mp
import random
import sys
import time
from multiprocessing.shared_memory import SharedMemory
from queue import Empty, Full

import numpy as np
from multiprocessing import resource_tracker


class SharedNumpyArray:
    '''The seed's wrapper (see seed002_transform.py), as written there.'''
    def __init__(self, array):
        self._shared = SharedMemory(create=True, size=array.nbytes)
        self._dtype, self._shape = array.dtype, array.shape
        res = np.ndarray(
            self._shape, dtype=self._dtype, buffer=self._shared.buf
        )
        res[:] = array[:]

    def read(self):
        return np.ndarray(self._shape, self._dtype, buffer=self._shared.buf)

    def close(self):
        self._shared.close()

    def unlink(self):
        self._shared.unlink()


def camera_capture(cfg):
    time.sleep(random.random() * cfg["delay"])

    # 5000 descriptors with 250 features each
    return np.random.random(size=(cfg["rows"], cfg["cols"]))


def object_matcher(frame, camera_objects, cfg):
    # cameras is a list of SharedNumpyArray's
    found = 0
    pairs = 0
    for i in range(len(camera_objects) - 1):
        if camera_objects[i] is None:
            continue

        for j in range(i + 1, len(camera_objects)):
            if camera_objects[j] is None:
                continue

            d1, d2 = camera_objects[i].read(), camera_objects[j].read()
            similarity = (d1 @ d2.T) / d1.shape[1]
            matches = np.sum(similarity > 0.4)
            pairs += 1
            if matches > 0:
                found += int(matches)  # the seed prints 'found', matches, 'matches at frame', ...
    return pairs, found


# producer
def camera_process(camera_idx, queue, stats, cfg):
    random.seed(cfg["seed"] * 1000 + camera_idx)
    np.random.seed(cfg["seed"] * 1000 + camera_idx)
    skips = 0

    # simulate 72 frames
    for i in range(cfg["frames"]):
        objects = SharedNumpyArray(camera_capture(cfg))
        try:
            # timeout: how long to wait for a free spot in the queue
            queue.put((camera_idx, i, objects), block=True, timeout=cfg["put_timeout"])
        except Full:
            # queue is still full after the timeout, skip frame and move on.
            # Note: these descriptors are now "lost" and won't be matched
            skips += 1
            # (as in the seed, a skipped frame's segment is never unlinked: it stays in /dev/shm
            # until multiprocessing's resource tracker removes it when the script ends)
        finally:
            # *important:* always close the object as it is not needed anymore
            objects.close()

    stats.put({"camera": camera_idx, "skipped": skips})


# consumer
def matching_process(num_cams, queue, stats, cfg):
    received = 0
    rounds = 0
    pairs = 0
    found = 0
    try:
        # here we store the latest descriptors
        camera_objects = [None] * num_cams

        while True:
            camera, frame, objects = queue.get(True, timeout=cfg["get_timeout"])
            received += 1

            # free memory of old descriptors
            if camera_objects[camera] is not None:
                camera_objects[camera].close()
                camera_objects[camera].unlink()

            # store latest descriptors
            camera_objects[camera] = objects

            # match every 8 frames because
            # exhaustive matching every frame is too slow
            if frame % cfg["match_every"] == 0:
                p, f = object_matcher(frame, camera_objects, cfg)
                rounds += 1
                pairs += p
                found += f

    except Empty:
        # empty queue, matching process quitting
        pass

    # release all memory
    for c in camera_objects:
        if c is not None:
            c.close()
            c.unlink()
    stats.put({"matcher": True, "received": received, "rounds": rounds, "pairs": pairs, "matches": found})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cameras", type=int, default=5)
    p.add_argument("--frames", type=int, default=72)
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--cols", type=int, default=250)
    p.add_argument("--maxsize", type=int, default=None, help="queue capacity (default: cameras * 10)")
    p.add_argument("--matchers", type=int, default=2)
    p.add_argument("--put-timeout", type=float, default=2.0)
    p.add_argument("--get-timeout", type=float, default=3.0)
    p.add_argument("--delay", type=float, default=1.0, help="camera_capture sleeps random() * delay s")
    p.add_argument("--match-every", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    cfg = {
        "frames": a.frames, "rows": a.rows, "cols": a.cols, "delay": a.delay,
        "put_timeout": a.put_timeout, "get_timeout": a.get_timeout,
        "match_every": a.match_every, "seed": a.seed,
    }
    num_cameras = a.cameras
    num_matchers = a.matchers
    maxsize = a.maxsize if a.maxsize is not None else num_cameras * 10

    resource_tracker.ensure_running()  # see the module docstring
    start_time = time.time()

    # create queue
    queue = mp.Queue(maxsize=maxsize)
    stats = mp.Queue()

    # start consumer processes
    matchers = []
    for i in range(num_matchers):
        m = mp.Process(target=matching_process, args=(num_cameras, queue, stats, cfg))
        m.start()
        matchers.append(m)

    # start producer processes
    cams = []
    for i in range(num_cameras):
        c = mp.Process(target=camera_process, args=(i, queue, stats, cfg))
        c.start()
        cams.append(c)

    reports = []
    procs = matchers + cams
    while len(reports) < num_cameras + num_matchers:
        try:
            reports.append(stats.get(timeout=0.5))
        except Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                for p in procs:
                    p.kill()
                print(f"pipeline: a process died (exit {dead[0].exitcode})", file=sys.stderr)
                sys.exit(1)

    # wait for all processes to quit
    for c in cams:
        c.join()
    for m in matchers:
        m.join()
    queue.close()

    end_time = time.time()
    skipped = sorted((r for r in reports if "camera" in r), key=lambda r: r["camera"])
    got = [r for r in reports if "matcher" in r]
    produced = num_cameras * a.frames
    out = {
        "script": "seed002_pipeline",
        "cameras": num_cameras,
        "frames": a.frames,
        "rows": a.rows,
        "cols": a.cols,
        "frame_bytes": a.rows * a.cols * 8,
        "maxsize": maxsize,
        "matchers": num_matchers,
        "put_timeout": a.put_timeout,
        "get_timeout": a.get_timeout,
        "delay": a.delay,
        "seconds": end_time - start_time,
        "frames_produced": produced,
        "frames_skipped": sum(r["skipped"] for r in skipped),
        "skipped_per_camera": [r["skipped"] for r in skipped],
        "frames_received": sum(r["received"] for r in got),
        "match_rounds": sum(r["rounds"] for r in got),
        "pairs_compared": sum(r["pairs"] for r in got),
        "matches": sum(r["matches"] for r in got),
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__},
    }
    lost = produced - out["frames_skipped"] - out["frames_received"]
    out["frames_lost"] = lost  # put into the queue but never received: must be 0
    # a skipped frame's segment is never unlinked (as in the seed): it stays in /dev/shm until
    # the resource tracker removes it at exit
    out["segments_leaked_until_exit"] = out["frames_skipped"]
    print(
        f"pipeline: {out['seconds']:.2f} s, {out['frames_received']}/{produced} frames matched, "
        f"{out['frames_skipped']} skipped, {lost} lost",
        file=sys.stderr,
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
