/* test_roundtrip: every size keeps its contents from allocation to free.
 *
 * 1. every size 0..16384 (all small classes, the small/large boundary);
 * 2. sizes up to 1 MiB with a prime stride, and every power of two +-1 up to
 *    16 MiB;
 * 3. live sets: many blocks of mixed sizes alive at once, each filled over its
 *    whole usable size, all verified after all allocations (so overlapping
 *    blocks are caught), freed in random order, in several rounds;
 * 4. every size 1..65536 gets the smallest size class that holds it: usable
 *    sizes cover the request, never fall as the size grows, and a size that
 *    fits the block one byte less got gets the same class (the class tables
 *    are written one range per class);
 * 5. the same in another thread, and sizes to 64 KiB as the first
 *    allocation of a new thread: every heap, and the heap of a thread without
 *    one, has its own small-size class table (hk_heap's class_small, and
 *    the thread's cache tops from it, hk_tl), which must agree with them:
 *    a new heap's are the coarse classes; this thread's may have split its
 *    busiest classes (size_class.c), into the fine classes of 16 bytes up
 *    to 512 and 64 bytes up to 1 KiB.
 */
#include <pthread.h>
#include "check.h"

/* Allocates size bytes, fills them, also writes the slack up to the usable
 * size, verifies and frees. */
static void roundtrip(size_t size)
{
  unsigned char *p = hak_malloc(size);
  if (size == 0 && p == NULL) return; /* malloc(0) may return NULL */
  CHECK(p != NULL, "hak_malloc(%zu) returned NULL", size);
  if (!p) return;
  CHECK(is_aligned(p, 16), "hak_malloc(%zu) = %p not 16-byte aligned", size, (void *)p);
  size_t usable = hak_usable_size(p);
  CHECK(usable >= size, "hak_usable_size = %zu < %zu", usable, size);
  CHECK(hak_owns(p) == 1, "hak_owns(fresh block of %zu) != 1", size);
  fill(p, size);
  memset(p + size, 0x5A, usable - size); /* the slack is ours too */
  size_t bad = verify_key(p, size, size, p);
  CHECK(bad == (size_t)-1, "size %zu: byte %zu changed", size, bad);
  hak_free(p);
}

static void all_small_sizes(void)
{
  for (size_t size = 0; size <= 16384; size++) roundtrip(size);
}

static void strided_and_powers(void)
{
  for (size_t size = 16385; size <= ((size_t)1 << 20); size += 4093) roundtrip(size);
  for (int shift = 0; shift <= 24; shift++) {
    size_t p2 = (size_t)1 << shift;
    roundtrip(p2 - 1);
    roundtrip(p2);
    roundtrip(p2 + 1);
  }
}

/* Mostly small sizes, some mid, a few large: the mix of a real program. */
static size_t random_size(uint64_t *rng)
{
  uint64_t r = rng_next(rng);
  if (r % 256 == 0) return (size_t)(r >> 8) % (1u << 20) + 1; /* up to 1 MiB */
  switch (r % 16) {
  case 0:
  case 1:
  case 2: return (size_t)(r >> 8) % 65536 + 1;       /* up to 64 KiB */
  case 3:
  case 4:
  case 5: return (size_t)(r >> 8) % 8192 + 1;        /* all small classes */
  default: return (size_t)(r >> 8) % 256 + 1;        /* the hot small sizes */
  }
}

struct live { unsigned char *p; size_t size, usable; };

static void fill_live(struct live *b)
{
  fill(b->p, b->usable); /* whole usable size: a neighbour must not overlap */
}

static int live_ok(const struct live *b) { return verify(b->p, b->usable); }

static void shuffle(struct live *v, size_t n, uint64_t *rng)
{
  for (size_t i = n; i > 1; i--) {
    size_t j = rng_next(rng) % i;
    struct live t = v[i - 1];
    v[i - 1] = v[j];
    v[j] = t;
  }
}

static void live_sets(void)
{
  enum { N = 3000, ROUNDS = 6 };
  static struct live set[N];
  uint64_t rng = 0x1234567ull;
  for (int round = 0; round < ROUNDS; round++) {
    for (size_t i = 0; i < N; i++) {
      size_t size = random_size(&rng);
      set[i].p = hak_malloc(size);
      set[i].size = size;
      CHECK(set[i].p != NULL, "round %d: hak_malloc(%zu) = NULL", round, size);
      if (!set[i].p) { set[i].usable = 0; continue; }
      set[i].usable = hak_usable_size(set[i].p);
      CHECK(set[i].usable >= size, "usable %zu < %zu", set[i].usable, size);
      fill_live(&set[i]);
    }
    size_t bad = 0;
    for (size_t i = 0; i < N; i++)
      if (set[i].p && !live_ok(&set[i])) bad++;
    CHECK(bad == 0, "round %d: %zu of %d live blocks were overwritten", round, bad, N);

    /* Free half in random order, refill the holes, verify again: freed
     * blocks come back while their neighbours are still live. */
    shuffle(set, N, &rng);
    for (size_t i = 0; i < N / 2; i++) hak_free(set[i].p);
    for (size_t i = 0; i < N / 2; i++) {
      size_t size = random_size(&rng);
      set[i].p = hak_malloc(size);
      set[i].size = size;
      set[i].usable = set[i].p ? hak_usable_size(set[i].p) : 0;
      CHECK(set[i].p != NULL, "refill: hak_malloc(%zu) = NULL", size);
      if (set[i].p) fill_live(&set[i]);
    }
    bad = 0;
    for (size_t i = 0; i < N; i++)
      if (set[i].p && !live_ok(&set[i])) bad++;
    CHECK(bad == 0, "round %d after refill: %zu of %d blocks overwritten", round, bad, N);

    shuffle(set, N, &rng);
    for (size_t i = 0; i < N; i++) hak_free(set[i].p);
  }
}

/* Same-size live set: thousands of blocks of one class fill many slabs and
 * every block must be distinct. */
static void same_size_sets(void)
{
  static const size_t sizes[] = {16, 32, 48, 80, 128, 160, 640, 1024, 3000, 8192};
  enum { N = 20000 };
  static unsigned char *ptrs[N];
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t size = sizes[k];
    size_t count = size >= 1024 ? N / 8 : N;
    for (size_t i = 0; i < count; i++) {
      ptrs[i] = hak_malloc(size);
      if (ptrs[i]) fill(ptrs[i], size);
    }
    size_t bad = 0, nulls = 0;
    for (size_t i = 0; i < count; i++) {
      if (!ptrs[i]) nulls++;
      else if (!verify(ptrs[i], size)) bad++;
    }
    CHECK(nulls == 0, "size %zu: %zu NULL results", size, nulls);
    CHECK(bad == 0, "size %zu: %zu of %zu blocks overwritten", size, bad, count);
    for (size_t i = count; i-- > 0;) hak_free(ptrs[i]); /* reverse order */
  }
}

/* The usable size of every slab size: the smallest class that holds it. */
static void smallest_class_fits(void)
{
  size_t prev = 0;
  for (size_t n = 1; n <= 65536; n++) {
    void *p = hak_malloc(n);
    CHECK(p != NULL, "hak_malloc(%zu) failed", n);
    if (!p) return;
    size_t usable = hak_usable_size(p);
    hak_free(p);
    CHECK(usable >= n && usable <= 65536, "hak_malloc(%zu): usable size %zu", n, usable);
    CHECK(usable >= prev, "usable size fell from %zu to %zu at %zu bytes", prev, usable, n);
    CHECK(n > prev || usable == prev, "%zu bytes fit the %zu-byte class of %zu, got %zu", n, prev, n - 1, usable);
    prev = usable;
  }
}

/* The usable size of every slab size in a thread of its own (arg: an array
 * indexed by the size). It reports nothing itself: the checks' counters are
 * the main thread's. */
static void *usable_sizes_in_thread(void *arg)
{
  size_t *usable = arg;
  for (size_t n = 1; n <= 65536; n++) {
    void *p = hak_malloc(n);
    usable[n] = p ? hak_usable_size(p) : 0;
    hak_free(p);
  }
  return NULL;
}

/* A thread's first allocation (its class from the heap of threads without
 * one) has the usable size the calling thread gets for that size. */
static void *first_allocation(void *arg)
{
  size_t n = *(size_t *)arg;
  void *p = hak_malloc(n);
  *(size_t *)arg = p ? hak_usable_size(p) : 0;
  hak_free(p);
  return NULL;
}

static void class_copies_agree(void)
{
  pthread_t t;
  size_t *theirs = calloc(65537, sizeof *theirs);
  CHECK(theirs != NULL, "calloc");
  if (!theirs) return;
  int rc = pthread_create(&t, NULL, usable_sizes_in_thread, theirs);
  CHECK(rc == 0, "pthread_create: %d", rc);
  if (rc == 0) pthread_join(t, NULL);
  for (size_t n = 1, differ = 0; rc == 0 && n <= 65536 && !differ; n++) {
    void *p = hak_malloc(n);
    size_t mine = hak_usable_size(p);
    hak_free(p);
    size_t step = n <= 512 ? 16 : 64, fine = (n + step - 1) / step * step;
    differ = theirs[n] != mine && !(n > 128 && n <= 1024 && mine == fine);
    CHECK(!differ, "hak_malloc(%zu): usable size %zu in another thread, %zu here", n, theirs[n], mine);
  }
  for (size_t n = 0; rc == 0 && n <= 65536; n += n < 16 ? 1 : n < 1040 ? 7 : 251) {
    size_t want = n ? theirs[n] : theirs[1], got = n;
    rc = pthread_create(&t, NULL, first_allocation, &got);
    CHECK(rc == 0, "pthread_create: %d", rc);
    if (rc != 0) break;
    pthread_join(t, NULL);
    CHECK(got == want, "a new thread's first hak_malloc(%zu): usable size %zu, not %zu", n, got, want);
  }
  free(theirs);
}

int main(void)
{
  check_timeout(300);
  all_small_sizes();
  strided_and_powers();
  live_sets();
  same_size_sets();
  smallest_class_fits();
  class_copies_agree();
  return check_finish();
}
