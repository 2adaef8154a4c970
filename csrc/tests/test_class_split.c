/* test_class_split: a heap's busiest coarse classes are split into fine ones,
 * and a heap whose blocks of the fine classes that share cache lines come
 * back from other threads goes back to the coarse classes for good
 * (size_class.c, heap.c: split_class, go_coarse).
 *
 * 1. One thread allocating many blocks of 272 bytes gets blocks of the
 *    coarse class (320) first, then of the fine one (272) for good; the
 *    other sizes of the split class get their fine classes, classes it did
 *    not use stay coarse, and a new thread starts coarse.
 * 2. Then another thread frees those 272-byte blocks: the owner goes back
 *    to 320 for good, with per-slab remote frees (libhakmem.so's default)
 *    and with batches and thread caches (the LD_PRELOAD library's).
 * 3. Blocks of a fine class of whole cache lines (576 bytes, split from 640)
 *    coming back change nothing.
 * 4. A thread that takes over the split heap of a thread that exited
 *    allocates its fine classes (a thread reads a copy of its heap's class
 *    table, hk_tl), and the exited thread's remaining allocations work.
 * 5. A thread that has freed other threads' blocks at more than an eighth
 *    of its allocations of the class does not split it; past that share it
 *    does.
 * Every block keeps its contents; the counts are exact when all is freed.
 */
#include <pthread.h>
#include "check.h"

#define U(x) ((unsigned long long)(x))
#define MAX_BLOCKS 60000 /* 17 MiB of 272-byte blocks: the split comes after about 1 MiB of one class */

static void *blocks[MAX_BLOCKS];
static size_t nblocks;

/* Allocates blocks of size bytes (filled) until one has usable size want, at
 * most MAX_BLOCKS in all; whether one had. */
static int alloc_until_usable(size_t size, size_t want)
{
  while (nblocks < MAX_BLOCKS) {
    void *p = hak_malloc(size);
    CHECK(p != NULL, "hak_malloc(%zu)", size);
    if (!p) return 0;
    fill(p, size);
    blocks[nblocks++] = p;
    if (hak_usable_size(p) == want) return 1;
  }
  return 0;
}

/* n more blocks of size bytes (filled, within MAX_BLOCKS), each of usable
 * size want; what says when, for a failure. */
static void alloc_more_usable(size_t size, int n, size_t want, const char *what)
{
  for (int i = 0; i < n && nblocks < MAX_BLOCKS; i++) {
    void *p = hak_malloc(size);
    CHECK(p != NULL, "hak_malloc(%zu)", size);
    if (!p) return;
    fill(p, size);
    blocks[nblocks++] = p;
    if (hak_usable_size(p) != want) {
      CHECK(0, "block %d of %zu bytes %s: usable %zu, want %zu", i, size, what, hak_usable_size(p), want);
      return;
    }
  }
}

/* The usable size of a block of size bytes allocated and freed at once. */
static size_t usable_of(size_t size)
{
  void *p = hak_malloc(size);
  size_t usable = hak_usable_size(p);
  hak_free(p);
  return usable;
}

static void *usable_in_new_thread(void *arg)
{
  size_t *size = arg;
  *size = usable_of(*size);
  return NULL;
}

/* blocks[first..] of size bytes, verified and freed (by whichever thread calls). */
static void free_blocks_from(size_t first, size_t size)
{
  for (size_t i = first; i < nblocks; i++) {
    CHECK(verify(blocks[i], size), "block %zu of %zu bytes changed", i, size);
    hak_free(blocks[i]);
  }
}

struct range {
  size_t first, size, changed;
};

/* Frees blocks[first..] in another thread; counts, not CHECKs (the counts
 * of check.h belong to the main thread), the blocks that changed. */
static void *free_range(void *arg)
{
  struct range *r = arg;
  for (size_t i = r->first; i < nblocks; i++) {
    r->changed += !verify(blocks[i], r->size);
    hak_free(blocks[i]);
  }
  return NULL;
}

/* blocks[first..] of size bytes freed by another thread. */
static void free_in_other_thread(size_t first, size_t size)
{
  struct range r = {first, size, 0};
  pthread_t t;
  int rc = pthread_create(&t, NULL, free_range, &r);
  if (rc == 0) pthread_join(t, NULL);
  CHECK(rc == 0, "pthread_create: %d", rc);
  CHECK(r.changed == 0, "%zu blocks of %zu bytes changed before another thread freed them", r.changed, size);
  nblocks = first;
}

/* Splits the class of size (coarse: usable coarse) into its fine class
 * (usable size): the first block is of the coarse class, a later one of
 * the fine class, and every one after it too. Returns the index of the
 * first fine block. */
static size_t split_by_volume(size_t size, size_t coarse)
{
  size_t first = nblocks;
  CHECK(usable_of(size) == coarse, "hak_malloc(%zu) before the split: usable %zu, want %zu", size, usable_of(size),
        coarse);
  CHECK(alloc_until_usable(size, size), "%zu blocks of %zu bytes and still none of the fine class", nblocks - first,
        size);
  size_t fine_at = nblocks - 1;
  /* at the class's 16th slab of 64 KiB: a smaller working set stays coarse */
  CHECK((fine_at - first) * coarse >= (size_t)14 << 16, "split after %zu blocks (%llu bytes), before 14 slabs of them",
        fine_at - first, U((fine_at - first) * coarse));
  alloc_more_usable(size, 5000, size, "after the split");
  return fine_at;
}

static void check_all_freed(void)
{
  hak_trim();
  hak_stats_t s = stats_now();
  CHECK(s.bytes_in_use == 0, "bytes_in_use = %llu after every block was freed", U(s.bytes_in_use));
  CHECK(s.allocs == s.frees, "allocs %llu, frees %llu", U(s.allocs), U(s.frees));
}

/* 1 */
static void split_in_one_thread(void *arg)
{
  (void)arg;
  split_by_volume(272, 320);
  /* the split class's other sizes: the smallest fine class that holds them */
  CHECK(usable_of(257) == 272, "hak_malloc(257) after the split: usable %zu", usable_of(257));
  CHECK(usable_of(273) == 288, "hak_malloc(273) after the split: usable %zu", usable_of(273));
  CHECK(usable_of(300) == 304, "hak_malloc(300) after the split: usable %zu", usable_of(300));
  CHECK(usable_of(320) == 320, "hak_malloc(320) after the split: usable %zu", usable_of(320));
  /* classes this heap did not fill stay coarse */
  CHECK(usable_of(140) == 160, "hak_malloc(140): usable %zu, want 160 (not split)", usable_of(140));
  CHECK(usable_of(400) == 448, "hak_malloc(400): usable %zu, want 448 (not split)", usable_of(400));
  hak_stats_t st = stats_now();
  CHECK(st.classes_split == 1 && st.heaps_coarse == 0, "classes_split %llu, heaps_coarse %llu: want 1 and 0",
        U(st.classes_split), U(st.heaps_coarse));
  /* a new thread's heap starts on the coarse classes */
  size_t theirs = 272;
  pthread_t t;
  int rc = pthread_create(&t, NULL, usable_in_new_thread, &theirs);
  if (rc == 0) pthread_join(t, NULL);
  CHECK(rc == 0, "pthread_create: %d", rc);
  CHECK(theirs == 320, "hak_malloc(272) in a new thread: usable %zu, want 320", theirs);
  free_blocks_from(0, 272);
  nblocks = 0;
  check_all_freed();
}

/* 2 */
static void remote_frees_make_it_coarse(void *arg)
{
  if (arg) {
    CHECK(hak_config_set("HAKMEM_REMOTE_BATCH", "on") == HAK_OK, "HAKMEM_REMOTE_BATCH=on");
    CHECK(hak_config_set("HAKMEM_THREAD_CACHE", "on") == HAK_OK, "HAKMEM_THREAD_CACHE=on");
  }
  size_t fine_at = split_by_volume(272, 320);
  /* another thread frees the fine blocks: more than enough to go back */
  free_in_other_thread(fine_at, 272);
  size_t before = nblocks;
  CHECK(alloc_until_usable(272, 320), "%zu blocks of 272 bytes after other threads freed the fine ones, none of 320",
        nblocks - before);
  /* for good: even past another MiB of them */
  alloc_more_usable(272, 8000, 320, "after going back");
  CHECK(usable_of(300) == 320, "hak_malloc(300) after going back: usable %zu", usable_of(300));
  CHECK(stats_now().heaps_coarse == 1, "heaps_coarse %llu after going back, want 1", U(stats_now().heaps_coarse));
  free_blocks_from(0, 272);
  nblocks = 0;
  check_all_freed();
}

/* 3 */
static void whole_lines_stay_fine(void *arg)
{
  (void)arg;
  CHECK(hak_config_set("HAKMEM_REMOTE_BATCH", "on") == HAK_OK, "HAKMEM_REMOTE_BATCH=on");
  CHECK(hak_config_set("HAKMEM_THREAD_CACHE", "on") == HAK_OK, "HAKMEM_THREAD_CACHE=on");
  size_t fine_at = split_by_volume(576, 640);
  free_in_other_thread(fine_at, 576);
  alloc_more_usable(576, 8000, 576, "after another thread freed the fine ones");
  CHECK(stats_now().heaps_coarse == 0, "heaps_coarse %llu: whole lines sent back, want 0", U(stats_now().heaps_coarse));
  free_blocks_from(0, 576);
  nblocks = 0;
  check_all_freed();
}

/* 4 */
static void *split_and_exit(void *arg)
{
  (void)arg;
  split_by_volume(272, 320);
  return NULL;
}

/* As usable_in_new_thread, after a first allocation: the one that takes a
 * heap (over) has the class of a thread without one, the coarse one. */
static void *usable_after_first_in_new_thread(void *arg)
{
  size_t *size = arg;
  void *first = hak_malloc(16);
  *size = usable_of(*size);
  hak_free(first);
  return NULL;
}

static void split_heap_taken_over(void *arg)
{
  (void)arg;
  unsigned long long adopted = stats_now().heaps_adopted;
  pthread_t t;
  int rc = pthread_create(&t, NULL, split_and_exit, NULL);
  if (rc == 0) pthread_join(t, NULL);
  CHECK(rc == 0, "pthread_create: %d", rc);
  size_t theirs = 300;
  rc = pthread_create(&t, NULL, usable_after_first_in_new_thread, &theirs);
  if (rc == 0) pthread_join(t, NULL);
  CHECK(rc == 0, "pthread_create: %d", rc);
  CHECK(stats_now().heaps_adopted == adopted + 1, "heaps_adopted %llu, want %llu: the new thread took no heap over",
        U(stats_now().heaps_adopted), adopted + 1);
  CHECK(theirs == 304, "hak_malloc(300) in the thread that took the split heap over: usable %zu, want 304", theirs);
  free_blocks_from(0, 272);
  nblocks = 0;
  check_all_freed();
}

/* 5 */
#define FOREIGN_BLOCKS 4000
static void *foreign[FOREIGN_BLOCKS];

static void *alloc_foreign(void *arg)
{
  (void)arg;
  for (int i = 0; i < FOREIGN_BLOCKS; i++) {
    foreign[i] = hak_malloc(48);
    if (foreign[i]) fill(foreign[i], 48);
  }
  return NULL;
}

static void passing_heap_stays_coarse(void *arg)
{
  (void)arg;
  (void)usable_of(16); /* this thread's heap, to count its frees */
  pthread_t t;
  int rc = pthread_create(&t, NULL, alloc_foreign, NULL);
  if (rc == 0) pthread_join(t, NULL);
  CHECK(rc == 0, "pthread_create: %d", rc);
  size_t changed = 0;
  for (int i = 0; i < FOREIGN_BLOCKS; i++) {
    CHECK(foreign[i] != NULL, "hak_malloc(48) in the other thread");
    changed += foreign[i] && !verify(foreign[i], 48);
    hak_free(foreign[i]); /* remote: this heap has freed 4,000 other heaps' blocks */
  }
  CHECK(changed == 0, "%zu blocks of the other thread changed", changed);
  /* 20,000 blocks of 320: 98 slabs, six times the split's volume, and fewer
   * than 8 times the foreign frees */
  alloc_more_usable(272, 20000, 320, "while the heap passes blocks");
  CHECK(stats_now().classes_split == 0, "classes_split %llu: a heap passing blocks split", U(stats_now().classes_split));
  /* past 32,000 allocations of the class the share is under an eighth */
  size_t before = nblocks;
  CHECK(alloc_until_usable(272, 272), "%zu more blocks of 272 bytes and still no split", nblocks - before);
  CHECK(nblocks >= 32000 - 16, "split after %zu blocks of the class, before 8 times the 4,000 foreign frees", nblocks);
  free_blocks_from(0, 272);
  nblocks = 0;
  check_all_freed();
}

int main(void)
{
  check_timeout(300);
  check_in_child("split in one thread", split_in_one_thread, NULL);
  check_in_child("remote frees make it coarse (per slab)", remote_frees_make_it_coarse, NULL);
  check_in_child("remote frees make it coarse (batches, thread caches)", remote_frees_make_it_coarse, (void *)1);
  check_in_child("whole lines stay fine", whole_lines_stay_fine, NULL);
  check_in_child("a split heap taken over by a new thread", split_heap_taken_over, NULL);
  check_in_child("a heap passing blocks stays coarse", passing_heap_stays_coarse, NULL);
  return check_finish();
}
