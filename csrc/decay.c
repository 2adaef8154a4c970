/* The background releaser: memory the allocator keeps for reuse (empty
 * SuperSlabs in the LRU cache, freed large pages still committed) goes back to
 * the OS once it has been idle for HAKMEM_SS_LRU_TTL_SEC, even if the program
 * never calls the allocator again. Without it the TTL would be looked at only
 * on the next cache event.
 *
 * One thread, started the first time a cache holds memory in a process that
 * already runs more than one thread (never in a process that caches nothing,
 * never with a TTL of 0, where nothing is kept). A thread of ours in a
 * single-threaded program would make glibc take it for multi-threaded for
 * good (__libc_single_threaded, never set back): every stdio call, every
 * mutex and every C++ shared_ptr count would take an atomic operation (putc
 * 1.2 -> 13 ns once the releaser ran). There the TTL is looked at on the next
 * cache event (lru.c, large.c) and hak_trim releases at once; the releaser
 * starts at the first cache event after the program made a thread. It holds
 * no lock while it sleeps, so a fork never copies a held lock; the child has
 * no such thread and starts its own when it needs one. It blocks every
 * signal, so signals go to the program's threads as before, and it does not
 * keep the process alive: exit() ends it wherever it is. */
#include <signal.h>
#include <string.h>
#include <time.h>
#include "internal.h"

enum { IDLE = 0, RUNNING = 1, FAILED = 2 };
static _Atomic int state;

/* The layers that keep memory for a time (lru.c, large.c) hand their release
 * function down with their first wake-up: this file calls no layer above it. */
#define DECAYERS_MAX 4
static _Atomic(bool (*)(void)) decayers[DECAYERS_MAX];

static void add_decayer(bool (*release)(void)) {
  for (unsigned i = 0; i < DECAYERS_MAX; i++) {
    bool (*seen)(void) = atomic_load_explicit(&decayers[i], memory_order_acquire);
    if (seen == release) return;
    if (!seen && atomic_compare_exchange_strong(&decayers[i], &seen, release)) return;
    if (seen == release) return;
  }
}

/* Wakes every quarter TTL (at least every 10 ms, at most every 10 s): what
 * became idle at t is released by t + 1.25 TTL. */
static void *releaser(void *arg) {
  (void)arg;
  uint64_t period = g_hk.lru_ttl_ns / 4;
  if (period < 10000000ull) period = 10000000ull;
  if (period > 10000000000ull) period = 10000000000ull;
  struct timespec ts = {.tv_sec = (time_t)(period / 1000000000ull), .tv_nsec = (long)(period % 1000000000ull)};
  for (;;) {
    nanosleep(&ts, NULL);
    for (unsigned i = 0; i < DECAYERS_MAX; i++) {
      bool (*release)(void) = atomic_load_explicit(&decayers[i], memory_order_acquire);
      if (release) release();
    }
  }
  return NULL;
}

bool hk_decay_running(void) { return atomic_load_explicit(&state, memory_order_relaxed) == RUNNING; }

/* Started with every locks held by this thread let go (lock.c). */
static void start_deferred(void) { hk_decay_start(NULL); }

void hk_decay_start(bool (*release)(void)) {
  if (release) add_decayer(release);
  if (HK_LIKELY(atomic_load_explicit(&state, memory_order_relaxed) != IDLE) || g_hk.lru_ttl_ns == 0) return;
  if (hk_program_single_threaded()) return; /* see the top of this file */
  if (hk_tl_locks_held || hk_tl_fork_window) { /* pthread_create's allocations could need one of them */
    hk_tl_after_locks = start_deferred;
    return;
  }
  int expected = IDLE;
  if (!atomic_compare_exchange_strong(&state, &expected, RUNNING)) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits the mask */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t tid;
  int rc = pthread_create(&tid, &attr, releaser, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    atomic_store(&state, FAILED);
    hk_log("hakmem: cannot start the background releaser (%s); cached memory is released on later calls and by "
           "hak_trim", strerror(rc));
  }
}

/* The child of a fork has no releaser thread; it starts its own when it
 * needs one. Under ThreadSanitizer, which cannot start threads in the child of
 * a multi-threaded process, it does without (later calls and hak_trim release). */
#if defined(__SANITIZE_THREAD__)
static void decay_fork_child(void) { atomic_store(&state, FAILED); }
#else
static void decay_fork_child(void) { atomic_store(&state, IDLE); }
#endif
__attribute__((constructor)) static void decay_register_fork_handler(void) {
  pthread_atfork(NULL, NULL, decay_fork_child);
}
