/* hakmem's mutexes as the layers above take them (inline in internal.h):
 * the fork window, the count of locks each thread holds, whether they are
 * elided (a single-threaded process), and work a thread puts off until it
 * holds none (hk_after_locks). Calls only report.c. */
#include "internal.h"

__thread uint8_t hk_tl_fork_window;
__thread uint32_t hk_tl_locks_held;
__thread bool hk_tl_locks_elided;
__thread void (*hk_tl_after_locks)(void);

void hk_after_locks_run(void) {
  void (*work)(void) = hk_tl_after_locks;
  hk_tl_after_locks = NULL;
  if (work) work();
}
