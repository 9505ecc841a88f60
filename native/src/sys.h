/*
 * shmframe's system layer: futexes that reach other processes, 32-bit atomics on mapped memory,
 * and the few Linux calls the heap needs (memfd, space reservation). Plain C with C linkage, so
 * the Node addon links it and Python loads the same code through ctypes (libshmframe_sys.so).
 * No argument checks here: callers (TypeScript, Python) check before calling.
 */
#ifndef SHMFRAME_SYS_H_
#define SHMFRAME_SYS_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of this library: Python refuses a library whose version it does not know. */
int sf_version(void);

/*
 * Blocks while the 32-bit word at `addr` holds `expected`, for at most `timeout_ms`
 * (negative: no limit). Shared (non-private) futex: a wake from any process that maps the same
 * memory reaches it. Returns 0 when woken, 1 when the word did not hold `expected`,
 * 2 on timeout, 3 when interrupted by a signal (the caller re-checks and waits again).
 */
int sf_futex_wait(int32_t *addr, int32_t expected, double timeout_ms);

/* Wakes up to `count` waiters on `addr` in any process; returns how many were woken. */
int sf_futex_wake(int32_t *addr, int32_t count);

/* Sequentially consistent 32-bit atomics (for Python, which has none). */
int32_t sf_load(int32_t *addr);
void sf_store(int32_t *addr, int32_t value);
/* Returns the previous value; the swap happened when it equals `expected`. */
int32_t sf_cas(int32_t *addr, int32_t expected, int32_t desired);
/* Returns the previous value. */
int32_t sf_add(int32_t *addr, int32_t delta);
int32_t sf_exchange(int32_t *addr, int32_t value);

/*
 * An atomic operation and, right after it, a store to `mark` (NULL: none) saying it happened:
 * Words.addMark / decMark / casMark of src/heap/words.ts for Python (one call, so a process killed
 * in between leaves no doubt about which happened). sf_add_mark stores 1; sf_dec_mark subtracts 1
 * and stores 2 when the count was 1 (the last reference), else 1; sf_cas_mark stores `phase` when
 * the swap happened. Each returns the value before.
 */
int32_t sf_add_mark(int32_t *addr, int32_t delta, int32_t *mark);
int32_t sf_dec_mark(int32_t *addr, int32_t *mark);
int32_t sf_cas_mark(int32_t *addr, int32_t expected, int32_t desired, int32_t *mark, int32_t phase);

/* memfd_create(name, MFD_CLOEXEC) and ftruncate to `size`; returns the fd or -errno. */
int sf_memfd(const char *name, int64_t size);

/*
 * Reserves `size` bytes of a file descriptor's backing store (posix_fallocate) so that writing
 * the pages later cannot hit a full tmpfs (which raises SIGBUS). Returns 0 or -errno.
 */
int sf_reserve(int fd, int64_t offset, int64_t size);

/* mmap(MAP_SHARED, read+write) of `size` bytes of `fd` at 0; NULL on failure (errno set). */
void *sf_map(int fd, int64_t size);
int sf_unmap(void *addr, int64_t size);

#ifdef __cplusplus
}
#endif

#endif
