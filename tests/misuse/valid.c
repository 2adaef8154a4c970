/* A correct program that exercises the whole malloc family (C23's sized
 * frees too), with blocks freed by other threads. Under HAKMEM_CHECK=1 it must run clean: exit 0,
 * nothing from hakmem on stderr. Prints "ok" and a checksum. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include "misuse.h"

#define THREADS 4
#define PER_THREAD 20000

static void *handoff[THREADS][PER_THREAD];

static size_t size_of(unsigned i) { return i % 97 == 0 ? 70000 + i % 5000 : i % 11 == 0 ? 3000 + i % 9000 : 1 + i % 300; }

static void *producer(void *arg)
{
  long t = (long)arg;
  for (unsigned i = 0; i < PER_THREAD; i++) {
    size_t n = size_of(i);
    unsigned char *p = malloc(n);
    if (!p) return (void *)1;
    memset(p, (int)(i & 0xff), n);
    handoff[t][i] = p;
  }
  return NULL;
}

/* Frees the blocks another thread made (remote frees), checking each. */
static void *consumer(void *arg)
{
  long t = (long)arg;
  long from = (t + 1) % THREADS;
  for (unsigned i = 0; i < PER_THREAD; i++) {
    unsigned char *p = handoff[from][i];
    size_t n = size_of(i);
    if (p[0] != (i & 0xff) || p[n - 1] != (i & 0xff)) return (void *)2;
    free(p);
  }
  return NULL;
}

int main(void)
{
  misuse_setup();
  unsigned long sum = 0;
  /* The single-threaded family. */
  for (unsigned i = 1; i < 5000; i++) {
    char *a = malloc(i);
    char *b = calloc(i, 3);
    if (!a || !b) return 2;
    memset(a, 'a', i);
    for (unsigned k = 0; k < 3 * i; k++)
      if (b[k]) return 3;
    a = realloc(a, i * 2 + 7);
    if (!a || a[i - 1] != 'a') return 4;
    void *c = NULL;
    if (posix_memalign(&c, 64, i) != 0 || ((uintptr_t)c & 63)) return 5;
    void *d = aligned_alloc(4096, 4096);
    void *e = memalign(256, i);
    if (!d || ((uintptr_t)d & 4095) || !e || ((uintptr_t)e & 255)) return 6;
    if (malloc_usable_size(a) < i * 2 + 7) return 7;
    char *s = strdup("hakmem");
    sum += strlen(s) + (unsigned char)a[0];
    free(s);
    free(e);
    free(d);
    free(c);
    free(b);
    free(a);
    free(NULL);
  }
  /* C23's free_sized and free_aligned_sized (glibc 2.43 has them; these
   * headers may not): looked up, they must be the preloaded library's, and
   * free the block (the next allocation of its size reuses it first). */
  void (*fs)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
  void (*fas)(void *, size_t, size_t) = (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
  Dl_info where;
  if (!fs || !fas || !dladdr((void *)fs, &where) || !strstr(where.dli_fname, "hakmem")) return 11;
  void *f = malloc(40);
  fs(f, 40);
  void *g = malloc(40);
  if (g != f) return 12;
  free(g);
  void *h = aligned_alloc(64, 128);
  if (!h) return 13;
  fas(h, 64, 128);
  fs(NULL, 0);
  fas(NULL, 64, 0);
  /* realloc to 0 and from NULL */
  void *z = realloc(NULL, 100);
  if (!z) return 8;
  z = realloc(z, 0);
  free(z);
  /* Cross-thread frees. */
  pthread_t tid[THREADS];
  for (long t = 0; t < THREADS; t++) pthread_create(&tid[t], NULL, producer, (void *)t);
  for (long t = 0; t < THREADS; t++) {
    void *rc;
    pthread_join(tid[t], &rc);
    if (rc) return 9;
  }
  for (long t = 0; t < THREADS; t++) pthread_create(&tid[t], NULL, consumer, (void *)t);
  for (long t = 0; t < THREADS; t++) {
    void *rc;
    pthread_join(tid[t], &rc);
    if (rc) return 10;
  }
  printf("ok %lu\n", sum);
  return 0;
}
