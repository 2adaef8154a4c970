/* Threads whose pthread_key destructor frees its value and allocates a new
 * one, in every destructor round including the last (glibc runs at most
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds; the last value leaks by design, 64
 * bytes a thread). Before, each thread left a whole heap behind (a SuperSlab
 * each: 22.8 MB after 2,000 threads).
 *   key_dtor [THREADS]   default 2000, at most 4 running at a time
 * Pass: the resident set grew by less than 8 MiB. */
#include <errno.h>
#include <pthread.h>
#include "adversarial.h"

static pthread_key_t key;

static void dtor(void *v) {
  free(v);
  pthread_setspecific(key, malloc(64));
}

static void *body(void *arg) {
  void *blocks[16];
  for (int i = 0; i < 16; i++) blocks[i] = opaque(malloc(16 + 48 * i));
  for (int i = 0; i < 16; i++) free(blocks[i]);
  pthread_setspecific(key, malloc(64));
  return arg;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2000;
  if (pthread_key_create(&key, dtor)) fail("pthread_key_create");
  /* one thread first, so that one-time costs (stacks, the allocator's first
   * heap) are in the baseline */
  pthread_t t[4];
  if (pthread_create(&t[0], NULL, body, NULL)) fail("pthread_create");
  pthread_join(t[0], NULL);
  long before = rss_kib();
  for (int done = 0; done < threads; done += 4) {
    for (int k = 0; k < 4; k++)
      if (pthread_create(&t[k], NULL, body, NULL)) fail("pthread_create: %s", strerror(errno));
    for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
  }
  long grown = rss_kib() - before;
  printf("rss grew %ld KiB over %d threads\n", grown, threads);
  if (grown >= 8 * 1024) fail("the resident set grew by %ld KiB (limit 8192)", grown);
  printf("ok %d threads\n", threads);
  return 0;
}
