"""Seed 002's producer-consumer, reversed: a Python camera process captures frames (numpy arrays)
into shared memory and puts them into a SharedQueue that a Node consumer reads. The seed pickled
every frame through a multiprocessing.Queue; here a queue item is a handle (32 bytes) and the
frame itself never moves. A full queue skips the frame, as the seed's producers do.
Run by index.js (or: PYTHONPATH=python python3 producer.py <queue handle> <camera> <frames>).
"""
import sys

import numpy as np
import shmframe

queue = shmframe.attach(sys.argv[1])  # a SharedQueue made by Node
camera, frames = int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(camera)
skipped = 0
for i in range(frames):
    frame = shmframe.SharedArray.empty(queue.heap, (480, 640), "u1")  # "capture" into shared memory
    pixels = frame.numpy()
    pixels[:] = rng.integers(0, 256, pixels.shape, dtype=np.uint8)
    pixels[0, :4] = [camera, i >> 8, i & 0xFF, 0]  # who made it, and which one
    try:
        queue.put(frame, timeout=2)  # the item carries its own reference to the frame
    except shmframe.QueueFullError:
        skipped += 1  # no consumer for 2 s: drop the frame, as the seed does
    frame.close()
queue.put(f"camera {camera} done, skipped {skipped}")
queue.detach()
