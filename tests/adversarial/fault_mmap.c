/* A workload under HAKMEM_FAULT_MMAP_FAIL_EVERY (every Nth mapping hakmem
 * asks for fails as if the kernel had refused it): blocks of every tier are
 * allocated, grown with realloc, zeroed with calloc and freed, from two
 * threads. Pass: each call either succeeds with intact memory or returns
 * NULL with errno ENOMEM; the program ends normally. The program prints how
 * many calls failed (without the preload library, none do). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include "adversarial.h"

#define SLOTS 256
static const size_t sizes[] = {16, 64, 300, 2000, 9000, 30000, 70000, 300000, 3 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

struct result {
  long ok, refused;
};

static void check_null(const char *what) {
  if (errno != ENOMEM) fail("%s = NULL with errno %d, not ENOMEM", what, errno);
}

static void *worker(void *arg) {
  struct result *r = arg;
  unsigned char *slot[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  unsigned seed = (unsigned)(uintptr_t)arg;
  for (int i = 0; i < 20000; i++) {
    seed = seed * 1103515245u + 12345u;
    unsigned k = (seed >> 8) % SLOTS;
    size_t n = sizes[(seed >> 16) % NSIZES] + (seed >> 24);
    if (slot[k]) {
      if (slot[k][0] != (unsigned char)k || slot[k][len[k] - 1] != (unsigned char)k) fail("slot %u changed", k);
      if (seed & 1) {
        errno = 0;
        unsigned char *q = realloc(slot[k], n);
        if (!q) {
          check_null("realloc");
          r->refused++;
          continue; /* the old block stays valid */
        }
        slot[k] = q;
        len[k] = n;
        q[0] = q[n - 1] = (unsigned char)k;
        r->ok++;
        continue;
      }
      free(slot[k]);
      slot[k] = NULL;
      continue;
    }
    errno = 0;
    unsigned char *p = (seed & 2) ? calloc(1, n) : malloc(n);
    if (!p) {
      check_null((seed & 2) ? "calloc" : "malloc");
      r->refused++;
      continue;
    }
    if ((seed & 2) && (p[0] || p[n / 2] || p[n - 1])) fail("calloc(1, %zu) not zeroed", n);
    p[0] = p[n - 1] = (unsigned char)k;
    slot[k] = p;
    len[k] = n;
    r->ok++;
  }
  for (int k = 0; k < SLOTS; k++) free(slot[k]);
  return NULL;
}

int main(void) {
  struct result r[2] = {{0, 0}, {0, 0}};
  pthread_t t[2];
  for (int k = 0; k < 2; k++)
    if (pthread_create(&t[k], NULL, worker, &r[k])) fail("pthread_create");
  for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
  printf("calls served %ld, refused with ENOMEM %ld\n", r[0].ok + r[1].ok, r[0].refused + r[1].refused);
  printf("ok\n");
  return 0;
}
