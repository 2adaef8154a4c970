/* What happened, told once: the rare-event counters (hk_ctr, summed by
 * stats.c), lines on stderr (hk_log), misuse reports and hak_strerror.
 * The lowest layer: it calls nothing of hakmem's.
 *
 * How a misuse report ends is a policy of the library, fixed when it is
 * linked: libhakmem.so (FFI) prints the first 64 and carries on, the
 * LD_PRELOAD library aborts as glibc does. hk_host_policy below is the FFI
 * library's; preload.c defines its own, which replaces this weak one. So the
 * policy holds from the first instruction, before any constructor runs. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "internal.h"

hk_counters hk_ctr;

__attribute__((weak)) const hk_policy hk_host_policy = {
  .misuse_aborts = 0,
  .remote_batch_by_default = 0, /* hak_owns and hak_free_checked must see other threads' frees */
  .thread_cache_by_default = 0, /* ... and blocks freed into a thread cache must read as free */
};

void hk_log(const char *fmt, ...) {
  char buf[640];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  ssize_t w = write(2, buf, (size_t)n);
  (void)w;
}

/* Programs such as coreutils close stderr in their exit handlers, before
 * library destructors run, so reports at exit go to a copy of fd 2 taken
 * early (at initialisation, when a report at exit is asked for). */
static int report_fd = -1;
void hk_report_keep_stderr(void) {
  if (report_fd < 0) report_fd = fcntl(2, F_DUPFD_CLOEXEC, 100);
}
int hk_report_fd(void) { return report_fd >= 0 ? report_fd : 2; }

void hk_report_invalid_call(const char *call, const void *p, int state) {
  const char *what = state == HAK_BLOCK_FREE       ? "double free (the block is already free)"
                     : state == HAK_BLOCK_INTERIOR ? "pointer into the middle of a block"
                                                   : "pointer not allocated by hakmem";
  if (state == HAK_BLOCK_FOREIGN) HK_COUNT(foreign_frees, 1);
  else HK_COUNT(invalid_frees, 1);
  if (hk_host_policy.misuse_aborts) {
    hk_log("hakmem: %s(%p): %s; aborting", call, p, what);
    abort();
  }
  static _Atomic unsigned reported;
  unsigned n = atomic_fetch_add(&reported, 1);
  if (n < 64) hk_log("hakmem: hak_%s(%p): %s; ignored", call, p, what);
  else if (n == 64) hk_log("hakmem: further invalid frees are counted (invalid_frees, foreign_frees) but not printed");
}

void hk_report_invalid_free(const void *p, int state) { hk_report_invalid_call("free", p, state); }

void hk_assert_failed(const char *file, int line, const char *cond, const char *what) {
  hk_log("hakmem: invariant broken at %s:%d: %s (%s); aborting", file, line, what, cond);
  abort();
}

const char *hak_strerror(int code) {
  switch (code) {
  case HAK_OK: return "success";
  case HAK_E_UNKNOWN_FLAG: return "unknown flag";
  case HAK_E_BAD_VALUE: return "value not allowed for this flag";
  case HAK_E_LOCKED: return "configuration is locked after the first allocation";
  case HAK_E_FOREIGN: return "pointer was not allocated by hakmem";
  case HAK_E_DOUBLE_FREE: return "block is already free";
  case HAK_E_NOMEM: return "out of memory";
  case HAK_E_BAD_SIZE: return "size or alignment not acceptable";
  default: return "unknown error code";
  }
}
