"""A mutex on one heap word that records its owner (identity + 1), with a second word counting
sleepers (``src/heap/owned-mutex.ts``). A waiter that times out asks ``gone(owner)`` and takes
the lock over from a dead owner; :func:`lock_owned` then returns True so the caller repairs what
the lock guards.

These locks guard synchronous sections only, so a lock word that names the very identity asking
for the lock is stale (a damaged word, or a section left by an exception without its unlock): it
is taken over at once rather than waited for forever."""

OWNER_CHECK_MS = 100


def lock_owned(w, lock, waiters, gone, me):
    """Takes the lock at word ``lock`` as identity ``me - 1``. True when taken over from a dead
    owner (the guarded state may be half-updated), False for a normal acquisition."""
    if w.cas(lock, 0, me) == 0:
        return False
    for _ in range(64):
        if w.load(lock) == 0 and w.cas(lock, 0, me) == 0:
            return False
    if w.load(lock) == me:
        return True
    w.add(waiters, 1)
    try:
        while True:
            owner = w.load(lock)
            if owner == 0:
                if w.cas(lock, 0, me) == 0:
                    return False
                continue
            if w.wait(lock, owner, OWNER_CHECK_MS) == "timed-out" and gone(owner - 1):
                if w.cas(lock, owner, me) == owner:
                    return True
    finally:
        w.sub(waiters, 1)


def unlock_owned(w, lock, waiters):
    w.store(lock, 0)
    if w.load(waiters) > 0:
        w.notify(lock, 1)
