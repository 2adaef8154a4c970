/* The C side of the JavaScript bindings' buffers and checked frees:
 * hak_buffer_* (csrc/buffer.c), hak_free_checked's fast path and the marks
 * hak_free_batch_checked writes into blocks while it checks a batch. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include "check.h"

/* hak_buffer_alloc: zeroed, its address no block start, refused by free and
 * hak_free_checked, known to hak_buffer_size, given back by hak_buffer_free. */
static void buffers(void) {
  static const size_t sizes[] = {1, 16, 100, 4096, 65536 - 16, 65536, 1 << 20};
  /* each size twice, through hak_buffer_alloc then hak_buffer_alloc_i32: the second gets the block the first
   * wrote (the thread's own block, or its cached large block) and must see it zeroed */
  for (size_t i = 0; i < 2 * (sizeof sizes / sizeof sizes[0]); i++) {
    size_t n = sizes[i / 2];
    hak_stats_t before, after;
    hak_stats(&before);
    uint8_t *b = i % 2 ? hak_buffer_alloc_i32((int32_t)n, 1) : hak_buffer_alloc(n, 1);
    CHECK(b != NULL && ((uintptr_t)b & 15) == 0, "hak_buffer_alloc(%zu): %p", n, (void *)b);
    size_t nonzero = 0;
    for (size_t k = 0; k < n; k++) nonzero += b[k] != 0;
    CHECK(nonzero == 0, "hak_buffer_alloc(%zu, zeroed): %zu bytes not zero", n, nonzero);
    memset(b, 0xa5, n);
    CHECK(hak_buffer_size(b) == n, "hak_buffer_size = %zu, not %zu", hak_buffer_size(b), n);
    CHECK(hak_buffer_size(b + 16) == 0 && hak_buffer_size(b - 16) == 0, "only the buffer's own address is a buffer");
    CHECK(!hak_owns(b), "a buffer's address is not a block start");
    CHECK(hak_free_checked(b) == HAK_E_FOREIGN, "hak_free_checked of a buffer is refused");
    CHECK(hak_buffer_size(b) == n && b[n - 1] == 0xa5, "a refused free changes nothing");
    hak_buffer_free(b, i % 2 ? (void *)n : NULL); /* with and without its size as the context */
    CHECK(hak_buffer_size(b) == 0, "a freed buffer is no buffer");
    hak_stats(&after);
    CHECK(after.allocs - before.allocs == 1 && after.frees - before.frees == 1, "one block made and given back");
  }
  uint8_t *u = hak_buffer_alloc(300, 0);
  CHECK(u && hak_buffer_size(u) == 300, "unzeroed buffer");
  hak_buffer_free(u, NULL);
  u = hak_buffer_alloc_i32(300, 0);
  CHECK(u && hak_buffer_size(u) == 300, "unzeroed buffer (i32)");
  hak_buffer_free(u, NULL);
  CHECK(hak_buffer_alloc_i32(-1, 1) == NULL && hak_buffer_alloc_i32(INT32_MIN, 0) == NULL, "a negative size is refused");
  void *p = hak_malloc(64);
  CHECK(hak_buffer_size(p) == 0 && hak_buffer_size((uint8_t *)p + 16) == 0, "a plain block is no buffer");
  hak_free(p);
  int on_stack = 0;
  CHECK(hak_buffer_size(NULL) == 0 && hak_buffer_size(&on_stack) == 0 && hak_buffer_size((void *)8) == 0,
        "foreign addresses are no buffers");
  CHECK(hak_buffer_free_fn() == (void *)&hak_buffer_free, "hak_buffer_free_fn");
}

/* hak_free_checked decides live blocks whatever their first word holds. */
static void checked_free(void) {
  void *p[64];
  for (int i = 0; i < 64; i++) p[i] = hak_malloc(48);
  /* first words that look like links of the same slab, HK_END, NULL and data */
  *(void **)p[0] = p[1];
  *(uintptr_t *)p[2] = 1;
  *(uintptr_t *)p[3] = 0;
  *(uintptr_t *)p[4] = 0x1234567;
  for (int i = 0; i < 64; i++) CHECK(hak_free_checked(p[i]) == HAK_OK, "free of live block %d", i);
  for (int i = 0; i < 64; i++) CHECK(hak_free_checked(p[i]) == HAK_E_DOUBLE_FREE, "second free of block %d", i);
  void *q = hak_malloc(48);
  CHECK(hak_free_checked((uint8_t *)q + 16) == HAK_E_FOREIGN, "interior pointer refused");
  CHECK(hak_free_checked(q) == HAK_OK, "the block itself is freed");
}

/* A refused batch leaves every block as it was, first words included. */
static void batch_marks(void) {
  enum { N = 6000 }; /* more than the scratch kept on the stack */
  static void *ptrs[N];
  size_t counts[] = {3, 100, N};
  for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
    size_t n = counts[c];
    for (size_t i = 0; i < n; i++) {
      ptrs[i] = hak_malloc(32 + (i % 5) * 300);
      *(uintptr_t *)ptrs[i] = 0x5eed0000 + i;
    }
    size_t bad = 0;
    void *keep = ptrs[n - 1];
    ptrs[n - 1] = ptrs[n / 2]; /* a repeat, last */
    CHECK(hak_free_batch_checked(ptrs, n, &bad) == HAK_E_DOUBLE_FREE && bad == n - 1, "repeat found at %zu", bad);
    size_t changed = 0;
    for (size_t i = 0; i + 1 < n; i++) changed += *(uintptr_t *)ptrs[i] != 0x5eed0000 + i;
    CHECK(changed == 0, "%zu first words not restored after a refused batch of %zu", changed, n);
    ptrs[n - 1] = keep;
    int on_stack;
    void *foreign = ptrs[1];
    ptrs[1] = &on_stack;
    CHECK(hak_free_batch_checked(ptrs, n, &bad) == HAK_E_FOREIGN && bad == 1, "foreign entry found");
    ptrs[1] = foreign;
    CHECK(*(uintptr_t *)ptrs[0] == 0x5eed0000, "first word restored after a foreign entry");
    CHECK(hak_free_batch_checked(ptrs, n, &bad) == HAK_OK, "the good batch of %zu is freed", n);
    CHECK(hak_free_checked(ptrs[0]) == HAK_E_DOUBLE_FREE, "and its blocks are free");
  }
}

/* 65521..65536 bytes: a 64 KiB slab block with no guard, refused all the same. */
static void unguarded(void) {
  uint8_t *b[40];
  for (int i = 0; i < 40; i++) { /* enough to grow the set */
    size_t n = 65536 - (size_t)(i % 16);
    b[i] = hak_buffer_alloc(n, i & 1);
    CHECK(b[i] != NULL && hak_buffer_size(b[i]) == n, "unguarded buffer %d of %zu", i, n);
    if (i & 1) CHECK(b[i][0] == 0 && b[i][n - 1] == 0, "zeroed");
    memset(b[i], 0x3c, n);
  }
  hak_stats_t before, after;
  hak_stats(&before);
  void *batch[2] = {hak_malloc(64), b[3]};
  size_t bad = 9;
  CHECK(!hak_owns(b[0]) && hak_usable_size(b[0]) == 0 && hak_block_state(b[0]) == HAK_BLOCK_FOREIGN, "not the caller's block");
  CHECK(hak_free_checked(b[0]) == HAK_E_FOREIGN, "hak_free_checked refuses it");
  CHECK(hak_free_batch_checked(batch, 2, &bad) == HAK_E_FOREIGN && bad == 1, "a batch with it is refused");
  hak_free(batch[0]);
  hak_stats(&after);
  CHECK(after.frees - before.frees == 1, "only the plain block was freed");
  CHECK(b[0][65535 - 0] == 0x3c && hak_buffer_size(b[0]) == 65536, "refusals changed nothing");
  for (int i = 0; i < 40; i++) {
    hak_buffer_free(b[i], i % 3 ? (void *)(65536 - (size_t)(i % 16)) : NULL);
    CHECK(hak_buffer_size(b[i]) == 0, "freed");
  }
  void *p = hak_malloc(65536); /* a plain 64 KiB block is the caller's again */
  CHECK(hak_owns(p) && hak_free_checked(p) == HAK_OK, "plain 64 KiB block");
}

/* The lent marks are per block: plain 64 KiB blocks of the slabs that hold
 * lent ones stay the caller's (checked frees decide on the exact path there),
 * and a released block is a plain block again when it is handed out anew. */
static void marks_per_block(void) {
  enum { N = 24 };
  void *lent[N], *plain[N];
  hak_stats_t before, after;
  hak_stats(&before);
  for (int i = 0; i < N; i++) { /* interleaved: the same class, the same slabs */
    lent[i] = hak_buffer_alloc(65536 - (size_t)(i % 3 == 2 ? 7 : 0), i & 1);
    plain[i] = hak_malloc(65536);
    CHECK(lent[i] && plain[i], "blocks %d", i);
  }
  int refused = 0, owned = 0;
  for (int i = 0; i < N; i++) {
    refused += hak_block_state(lent[i]) == HAK_BLOCK_FOREIGN && !hak_owns(lent[i]) && hak_usable_size(lent[i]) == 0;
    owned += hak_block_state(plain[i]) == HAK_BLOCK_LIVE && hak_owns(plain[i]) && hak_usable_size(plain[i]) == 65536;
  }
  CHECK(refused == N && owned == N, "lent %d of %d refused, plain %d of %d owned", refused, N, owned, N);
  void *batch[N / 2];
  size_t bad = 99;
  for (int i = 0; i < N / 2; i++) batch[i] = plain[i];
  CHECK(hak_free_batch_checked(batch, N / 2, &bad) == HAK_OK, "plain blocks beside lent ones freed by a checked batch");
  for (int i = N / 2; i < N; i++) CHECK(hak_free_checked(plain[i]) == HAK_OK, "plain block %d freed checked", i);
  for (int i = 0; i < N; i++) hak_buffer_free(lent[i], i & 1 ? (void *)(65536 - (size_t)(i % 3 == 2 ? 7 : 0)) : NULL);
  hak_stats(&after);
  CHECK(after.frees - before.frees == 2 * N, "every block freed once: %llu frees", (unsigned long long)(after.frees - before.frees));
  CHECK(after.slabs_in_use <= before.slabs_in_use + 1,
        "the slabs emptied went back (in use %llu, before %llu)", (unsigned long long)after.slabs_in_use,
        (unsigned long long)before.slabs_in_use);
  int clean = 0;
  for (int i = 0; i < N; i++) { /* the same blocks again (LIFO), with no mark left on them */
    void *p = hak_malloc(65536);
    clean += hak_block_state(p) == HAK_BLOCK_LIVE && hak_buffer_size(p) == 0 && hak_free_checked(p) == HAK_OK;
  }
  CHECK(clean == N, "%d of %d blocks plain after their buffers were released", clean, N);
}

/* Buffers given back by another thread (a Worker's, or a collector's): the
 * marks are cleared by that thread while this one lends more in the same
 * slabs (make tsan runs this). */
enum { RING = 256, ROUNDS = 4000 };
static void *_Atomic ring[RING];
static void *release_ring(void *arg) {
  (void)arg;
  for (int k = 0; k < ROUNDS; k++) {
    void *b;
    while (!(b = atomic_exchange(&ring[k % RING], NULL))) sched_yield();
    if (hak_buffer_size(b) != (k % 5 == 4 ? 65530 : 65536)) return (void *)1;
    hak_buffer_free(b, k & 1 ? (void *)(uintptr_t)(k % 5 == 4 ? 65530 : 65536) : NULL);
  }
  return NULL;
}
static void released_elsewhere(void) {
  hak_stats_t before, after;
  hak_stats(&before);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, release_ring, NULL) == 0, "thread");
  int good = 0;
  for (int k = 0; k < ROUNDS; k++) {
    uint8_t *b = hak_buffer_alloc(k % 5 == 4 ? 65530 : 65536, 0);
    good += b != NULL && hak_free_checked(b) == HAK_E_FOREIGN;
    b[0] = (uint8_t)k;
    while (atomic_load(&ring[k % RING])) sched_yield();
    atomic_store(&ring[k % RING], b);
  }
  void *rc = (void *)2;
  pthread_join(t, &rc);
  CHECK(rc == NULL && good == ROUNDS, "every buffer refused by free, then released with its own size elsewhere");
  hak_stats(&after);
  CHECK(after.frees - before.frees == ROUNDS, "%llu frees for %d buffers", (unsigned long long)(after.frees - before.frees), ROUNDS);
  int clean = 0;
  void *p[64];
  for (int i = 0; i < 64; i++) {
    p[i] = hak_malloc(65536);
    clean += hak_block_state(p[i]) == HAK_BLOCK_LIVE && hak_buffer_size(p[i]) == 0;
  }
  for (int i = 0; i < 64; i++) clean += hak_free_checked(p[i]) == HAK_OK;
  CHECK(clean == 128, "blocks plain after release by another thread: %d of 128", clean);
}

int main(void) {
  check_timeout(120);
  buffers();
  checked_free();
  batch_marks();
  unguarded();
  marks_per_block();
  released_elsewhere();
  return check_finish();
}
