/* A library that, like some real ones, registers pthread_atfork handlers in
 * its constructor, each of which allocates (a large block and a small one).
 * Linked into atfork_alloc, it is loaded and registers its handlers before
 * the preloaded allocator's constructor runs, so its prepare handler runs
 * after the allocator's and its parent/child handlers before. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned long handler_calls;

static void churn(void) {
  void *big = malloc(200000), *small = malloc(64);
  if (!big || !small) abort();
  memset(big, 1, 200000);
  memset(small, 2, 64);
  free(big);
  free(small);
  handler_calls++;
}

static void prepare(void) { churn(); }
static void parent(void) { churn(); }
static void child(void) { churn(); }

unsigned long atfork_handler_calls(void) { return handler_calls; }

__attribute__((constructor)) static void register_handlers(void) { pthread_atfork(prepare, parent, child); }
