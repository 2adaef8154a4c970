/* Memory freed into the heaps of exited threads. 32 threads allocate 40,000
 * blocks of 200-312 bytes each and exit; the main thread frees them all.
 * Prints the resident set (KiB) at each step:
 *   rss peak N / after_free N / after_trim N / after_new_thread N
 * tests/adversarial.test.ts compares after_trim with glibc's on the same
 * program. Pass here: the contents were intact when freed. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include "adversarial.h"

#define THREADS 32
#define BLOCKS 40000

static unsigned char *blocks[THREADS][BLOCKS];

static void *producer(void *arg) {
  uintptr_t id = (uintptr_t)arg;
  for (int i = 0; i < BLOCKS; i++) {
    size_t size = 200 + (size_t)((i * 7 + id) % 113);
    unsigned char *p = malloc(size);
    if (!p) fail("malloc(%zu) = NULL", size);
    p[0] = (unsigned char)i;
    p[size - 1] = (unsigned char)id;
    blocks[id][i] = p;
  }
  return NULL;
}

static void *late(void *arg) {
  for (int i = 0; i < 1000; i++) free(opaque(malloc(256)));
  return arg;
}

int main(void) {
  pthread_t t[THREADS];
  for (uintptr_t k = 0; k < THREADS; k++)
    if (pthread_create(&t[k], NULL, producer, (void *)k)) fail("pthread_create");
  for (int k = 0; k < THREADS; k++) pthread_join(t[k], NULL);
  long peak = rss_kib();
  for (int k = 0; k < THREADS; k++)
    for (int i = 0; i < BLOCKS; i++) {
      size_t size = 200 + (size_t)((i * 7 + k) % 113);
      if (blocks[k][i][0] != (unsigned char)i || blocks[k][i][size - 1] != (unsigned char)k)
        fail("block %d of thread %d changed", i, k);
      free(blocks[k][i]);
    }
  long after_free = rss_kib();
  malloc_trim(0);
  long after_trim = rss_kib();
  pthread_t n;
  if (pthread_create(&n, NULL, late, NULL)) fail("pthread_create");
  pthread_join(n, NULL);
  printf("rss peak %ld / after_free %ld / after_trim %ld / after_new_thread %ld\n", peak, after_free, after_trim,
         rss_kib());
  printf("ok\n");
  return 0;
}
