#define _GNU_SOURCE
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <math.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int sf_version(void) { return 1; }

int sf_futex_wait(int32_t *addr, int32_t expected, double timeout_ms) {
  struct timespec ts;
  struct timespec *tp = NULL;
  if (timeout_ms >= 0 && isfinite(timeout_ms)) {
    double secs = floor(timeout_ms / 1000.0);
    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((timeout_ms - secs * 1000.0) * 1e6);
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec += 1;
      ts.tv_nsec -= 1000000000L;
    }
    tp = &ts;
  }
  /* FUTEX_WAIT without FUTEX_PRIVATE_FLAG: keyed by the physical page, so it works across
     processes that map the same memory (the private flag breaks exactly that case). */
  long r = syscall(SYS_futex, addr, FUTEX_WAIT, expected, tp, NULL, 0);
  if (r == 0) return 0;
  if (errno == EAGAIN) return 1;
  if (errno == ETIMEDOUT) return 2;
  if (errno == EINTR) return 3;
  return -errno;
}

int sf_futex_wake(int32_t *addr, int32_t count) {
  long r = syscall(SYS_futex, addr, FUTEX_WAKE, count, NULL, NULL, 0);
  return r < 0 ? -errno : (int)r;
}

int32_t sf_load(int32_t *addr) { return __atomic_load_n(addr, __ATOMIC_SEQ_CST); }
void sf_store(int32_t *addr, int32_t value) { __atomic_store_n(addr, value, __ATOMIC_SEQ_CST); }
int32_t sf_cas(int32_t *addr, int32_t expected, int32_t desired) {
  __atomic_compare_exchange_n(addr, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return expected;
}
int32_t sf_add(int32_t *addr, int32_t delta) {
  return __atomic_fetch_add(addr, delta, __ATOMIC_SEQ_CST);
}
int32_t sf_exchange(int32_t *addr, int32_t value) {
  return __atomic_exchange_n(addr, value, __ATOMIC_SEQ_CST);
}

/* The *_mark functions mirror Words.addMark / decMark / casMark (src/heap/words.ts): an atomic
   operation, then a plain store recording that it happened, with no call in between. A Python
   caller making two ctypes calls could be killed between them (a window of about a microsecond
   per reference operation); here the window is two instructions. */
int32_t sf_add_mark(int32_t *addr, int32_t delta, int32_t *mark) {
  int32_t before = __atomic_fetch_add(addr, delta, __ATOMIC_SEQ_CST);
  if (mark != NULL) __atomic_store_n(mark, 1, __ATOMIC_RELAXED);
  return before;
}

int32_t sf_dec_mark(int32_t *addr, int32_t *mark) {
  int32_t before = __atomic_fetch_sub(addr, 1, __ATOMIC_SEQ_CST);
  if (mark != NULL) __atomic_store_n(mark, before == 1 ? 2 : 1, __ATOMIC_RELAXED);
  return before;
}

int32_t sf_cas_mark(int32_t *addr, int32_t expected, int32_t desired, int32_t *mark,
                    int32_t phase) {
  int32_t seen = expected;
  if (__atomic_compare_exchange_n(addr, &seen, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) &&
      mark != NULL)
    __atomic_store_n(mark, phase, __ATOMIC_RELAXED);
  return seen;
}

int sf_memfd(const char *name, int64_t size) {
  int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
  if (fd < 0) return -errno;
  if (ftruncate(fd, (off_t)size) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int sf_reserve(int fd, int64_t offset, int64_t size) {
  int r = posix_fallocate(fd, (off_t)offset, (off_t)size);
  return r == 0 ? 0 : -r;
}

void *sf_map(int fd, int64_t size) {
  void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? NULL : p;
}

int sf_unmap(void *addr, int64_t size) { return munmap(addr, (size_t)size) == 0 ? 0 : -errno; }
