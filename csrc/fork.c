/* fork: no lock may be held across it by another thread, and it must not cut
 * an initialisation in half. The prepare handler takes every lock (in the
 * order the code nests them), then opens the fork window (internal.h), so
 * atfork handlers of other libraries that run after it in this thread can
 * still allocate; the parent and child handlers close it and release. The
 * handlers are registered when the library is loaded. The top of the stack
 * below the API: it calls every layer that holds a lock. */
#include "internal.h"

static void fork_prepare(void) {
  hk_init_fork_prepare();
  hk_config_fork_prepare();
  hk_stats_fork_prepare();
  hk_heap_fork_prepare();
  hk_lru_fork_prepare();
  hk_large_fork_prepare();
  hk_lent_fork_prepare();
  hk_os_fork_prepare();
  hk_tl_fork_window = 1;
}
static void fork_parent(void) {
  hk_tl_fork_window = 0;
  hk_os_fork_parent();
  hk_lent_fork_parent();
  hk_large_fork_parent();
  hk_lru_fork_parent();
  hk_heap_fork_parent();
  hk_stats_fork_parent();
  hk_config_fork_parent();
  hk_init_fork_parent();
}
/* The child holds every lock the parent took in prepare (only the forking
 * thread survives): fix up the heaps and the large tier's pools, then release
 * them as the parent does. */
static void fork_child(void) {
  hk_heap_fork_child();
  hk_large_fork_child();
  fork_parent();
}
__attribute__((constructor)) static void hk_register_fork_handlers(void) {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}
