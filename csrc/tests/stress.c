/* stress — a multi-threaded soak of the hak_* API.
 *
 *   build/stress THREADS SECONDS [SEED]
 *
 * Every thread allocates sizes from 1 byte to 4 MiB (mostly small, some mid
 * up to 64 KiB, rarely large), writes a pattern derived from the block's
 * address and size over the whole block, and before freeing checks it.
 * A share of the blocks is handed to other threads (a mutex-protected
 * mailbox per thread) so that they are freed remotely; some blocks are
 * reallocated (the prefix must survive), some come from hak_calloc (must be
 * zero), hak_aligned_alloc (must be aligned), hak_malloc_batch. Now and then
 * a thread calls hak_trim() while the others keep working, and the main
 * thread reads hak_stats() / hak_stats_json() throughout, as a monitoring
 * tool would.
 *
 * At the end every block is freed, the threads exit, the main thread calls
 * hak_trim() and hak_stats() must show bytes_in_use == 0 (every block that
 * was handed out was given back, whichever thread freed it).
 *
 * Any mismatch prints the block, the offset, the expected and actual bytes
 * and exits 1. Success prints one summary line and exits 0.
 *
 * The harness's own memory (tables, mailboxes) comes from libc malloc; only
 * the blocks under test come from hakmem.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define U(x) ((unsigned long long)(x))

/* Per-thread limits on what is kept live (so 8 threads stay well inside a
 * few hundred MiB, also under AddressSanitizer). */
#define LIVE_MAX_BLOCKS 4096
#define LIVE_MAX_BYTES (24 * MiB)
#define OUTBOX_BATCH 32
#define BATCH_MAX 64

enum origin { O_MALLOC, O_CALLOC, O_ALIGNED, O_REALLOC, O_BATCH };
static const char *const origin_name[] = {"hak_malloc", "hak_calloc", "hak_aligned_alloc", "hak_realloc",
                                          "hak_malloc_batch"};

typedef struct block {
  unsigned char *p;
  size_t size;
  size_t align;      /* alignment asked for (16 when none) */
  uint8_t origin;    /* enum origin */
  uint8_t owner;     /* thread that allocated it */
} block;

typedef struct mailbox {
  pthread_mutex_t lock;
  block *items; /* libc memory */
  size_t n, cap;
} mailbox;

typedef struct worker {
  int id;
  pthread_t tid;
  uint64_t rng;
  block *live; /* libc memory, LIVE_MAX_BLOCKS entries */
  size_t nlive, live_bytes;
  block outbox[OUTBOX_BATCH];
  size_t nout;
  /* counters */
  uint64_t ops, allocs, frees, remote_sent, remote_freed, reallocs, bytes_allocated, trims;
  char pad[64];
} worker;

static int nthreads;
static uint64_t seed;
static double run_seconds;
static worker *workers;
static mailbox *mailboxes;
static atomic_int stop, workers_done;
static pthread_barrier_t done_barrier;

/* ---- failure reporting ---------------------------------------------------- */

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
  pthread_mutex_lock(&fail_lock);
  fflush(stdout);
  fprintf(stderr, "stress: FAILED (seed %llu): ", U(seed));
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  _exit(1);
}

static void describe(const char *what, const worker *w, const block *b, size_t off, uint8_t want, uint8_t got)
{
  die("%s: thread %d, block %p size %zu align %zu from %s by thread %d: byte %zu is 0x%02x, want 0x%02x"
      " (usable %zu, hak_block_state %d, op %llu)",
      what, w->id, (void *)b->p, b->size, b->align, origin_name[b->origin], b->owner, off, got, want,
      hak_usable_size(b->p), hak_block_state(b->p), U(w->ops));
}

/* Checks the whole pattern of b (keyed on its own address) and its metadata. */
static void check_block(const worker *w, const block *b, const char *when)
{
  size_t off = verify_key(b->p, b->size, b->size, b->p);
  if (off != (size_t)-1) {
    uint64_t key = pattern_seed(b->p, b->size);
    char what[96];
    snprintf(what, sizeof what, "pattern damaged (%s)", when);
    describe(what, w, b, off, pattern_byte(key, off), b->p[off]);
  }
}

static void check_new(const worker *w, void *p, size_t size, size_t align, const char *fn)
{
  if (!p) die("thread %d: %s(%zu) returned NULL (errno %d: %s)", w->id, fn, size, errno, strerror(errno));
  if (!is_aligned(p, align < 16 ? 16 : align))
    die("thread %d: %s(%zu) returned %p, not aligned to %zu", w->id, fn, size, p, align < 16 ? 16 : align);
  /* hak_usable_size walks a free list only when the block looks free; cheap enough 1 in 16. */
  if ((w->ops & 15) == 0) {
    size_t usable = hak_usable_size(p);
    if (usable < size) die("thread %d: %s(%zu) = %p: hak_usable_size %zu < size", w->id, fn, size, p, usable);
    if (!hak_owns(p)) die("thread %d: %s(%zu) = %p: hak_owns says not live (state %d)", w->id, fn, size, p,
                          hak_block_state(p));
  }
}

/* ---- sizes ------------------------------------------------------------------ */

/* Log-uniform in [lo, hi]: every octave equally likely. */
static size_t log_uniform(uint64_t *rng, size_t lo, size_t hi)
{
  unsigned lo_bits = 63 - (unsigned)__builtin_clzll(lo);
  unsigned hi_bits = 63 - (unsigned)__builtin_clzll(hi);
  unsigned bits = lo_bits + (unsigned)(rng_next(rng) % (hi_bits - lo_bits + 1));
  size_t base = (size_t)1 << bits;
  size_t size = base + (size_t)(rng_next(rng) % base);
  return size < lo ? lo : size > hi ? hi : size;
}

/* Skewed: 90% small (1 B .. 1 KiB, mostly under 256 B), 9.8% mid (1 KiB ..
 * 64 KiB), 0.2% large (64 KiB .. 4 MiB). */
static size_t pick_size(uint64_t *rng)
{
  uint64_t r = rng_next(rng) % 1000;
  if (r < 600) return 1 + (size_t)(rng_next(rng) % 256);
  if (r < 900) return log_uniform(rng, 1, KiB);
  if (r < 998) return log_uniform(rng, KiB, 64 * KiB);
  return log_uniform(rng, 64 * KiB, 4 * MiB);
}

static size_t pick_align(uint64_t *rng)
{
  uint64_t r = rng_next(rng) % 100;
  if (r < 90) return (size_t)32 << (rng_next(rng) % 8); /* 32 .. 4096: the slab tier */
  if (r < 99) return (size_t)8192 << (rng_next(rng) % 4); /* 8 KiB .. 64 KiB */
  return MiB;
}

/* ---- live table --------------------------------------------------------------- */

static void live_add(worker *w, const block *b)
{
  w->live[w->nlive++] = *b;
  w->live_bytes += b->size;
  w->allocs++;
  w->bytes_allocated += b->size;
}

static block live_take(worker *w, size_t i)
{
  block b = w->live[i];
  w->live[i] = w->live[--w->nlive];
  w->live_bytes -= b.size;
  return b;
}

/* ---- mailboxes ------------------------------------------------------------------- */

static void outbox_flush(worker *w)
{
  if (w->nout == 0) return;
  /* Everything in one outbox goes to one destination, picked per batch. */
  int dest = (int)(rng_next(&w->rng) % (uint64_t)(nthreads - 1));
  if (dest >= w->id) dest++;
  mailbox *m = &mailboxes[dest];
  pthread_mutex_lock(&m->lock);
  if (m->n + w->nout > m->cap) {
    size_t cap = m->cap ? m->cap : 256;
    while (cap < m->n + w->nout) cap *= 2;
    block *items = realloc(m->items, cap * sizeof *items);
    if (!items) die("libc realloc of a mailbox failed");
    m->items = items;
    m->cap = cap;
  }
  memcpy(m->items + m->n, w->outbox, w->nout * sizeof *w->outbox);
  m->n += w->nout;
  pthread_mutex_unlock(&m->lock);
  w->remote_sent += w->nout;
  w->nout = 0;
}

static void send_away(worker *w, const block *b)
{
  w->outbox[w->nout++] = *b;
  if (w->nout == OUTBOX_BATCH) outbox_flush(w);
}

/* Frees every block another thread sent here (checking each first). */
static void mailbox_drain(worker *w)
{
  mailbox *m = &mailboxes[w->id];
  pthread_mutex_lock(&m->lock);
  size_t n = m->n;
  block *items = m->items;
  m->items = NULL;
  m->n = m->cap = 0;
  pthread_mutex_unlock(&m->lock);
  for (size_t i = 0; i < n; i++) {
    check_block(w, &items[i], "freed by another thread");
    /* hak_owns on a block of another thread's heap, live and not being freed
     * by anyone else: must say 1 while its owner keeps allocating. */
    if ((i & 7) == 0 && !hak_owns(items[i].p))
      die("thread %d: hak_owns(%p) = 0 for a live block of thread %d (size %zu, state %d)", w->id,
          (void *)items[i].p, items[i].owner, items[i].size, hak_block_state(items[i].p));
    hak_free(items[i].p);
  }
  w->remote_freed += n;
  w->frees += n;
  free(items);
}

/* ---- operations ----------------------------------------------------------------- */

static void op_alloc(worker *w)
{
  uint64_t r = rng_next(&w->rng) % 100;
  block b = {.size = pick_size(&w->rng), .align = 16, .origin = O_MALLOC, .owner = (uint8_t)w->id};
  if (r < 80) {
    b.p = hak_malloc(b.size);
    check_new(w, b.p, b.size, 16, "hak_malloc");
  } else if (r < 90) {
    /* calloc with a count, so the overflow-checked product path is used */
    size_t count = 1 + (size_t)(rng_next(&w->rng) % 8);
    size_t each = (b.size + count - 1) / count;
    b.size = count * each;
    b.origin = O_CALLOC;
    b.p = hak_calloc(count, each);
    check_new(w, b.p, b.size, 16, "hak_calloc");
    for (size_t i = 0; i < b.size; i++)
      if (b.p[i] != 0) describe("hak_calloc block not zero", w, &b, i, 0, b.p[i]);
  } else {
    b.align = pick_align(&w->rng);
    b.origin = O_ALIGNED;
    b.p = hak_aligned_alloc(b.align, b.size);
    check_new(w, b.p, b.size, b.align, "hak_aligned_alloc");
  }
  fill(b.p, b.size);
  live_add(w, &b);
}

static void op_batch(worker *w)
{
  void *ptrs[BATCH_MAX];
  size_t count = 1 + (size_t)(rng_next(&w->rng) % BATCH_MAX);
  if (w->nlive + count > LIVE_MAX_BLOCKS) return;
  size_t size = 1 + (size_t)(rng_next(&w->rng) % 512);
  size_t got = hak_malloc_batch(size, count, ptrs);
  if (got != count) die("thread %d: hak_malloc_batch(%zu, %zu) allocated %zu", w->id, size, count, got);
  for (size_t i = 0; i < count; i++) {
    check_new(w, ptrs[i], size, 16, "hak_malloc_batch");
    block b = {.p = ptrs[i], .size = size, .align = 16, .origin = O_BATCH, .owner = (uint8_t)w->id};
    fill(b.p, b.size);
    live_add(w, &b);
  }
}

/* Frees up to BATCH_MAX random live blocks with one hak_free_batch call. */
static void op_free_batch(worker *w)
{
  void *ptrs[BATCH_MAX + 1];
  size_t count = 1 + (size_t)(rng_next(&w->rng) % BATCH_MAX), n = 0;
  for (size_t i = 0; i < count && w->nlive > 0; i++) {
    block b = live_take(w, (size_t)(rng_next(&w->rng) % w->nlive));
    check_block(w, &b, "before hak_free_batch");
    ptrs[n++] = b.p;
  }
  ptrs[n++] = NULL; /* NULL entries are skipped */
  hak_free_batch(ptrs, n);
  w->frees += n - 1;
}

static void op_free(worker *w)
{
  block b = live_take(w, (size_t)(rng_next(&w->rng) % w->nlive));
  check_block(w, &b, "before free");
  if (nthreads > 1 && rng_next(&w->rng) % 4 == 0) {
    send_away(w, &b);
    return;
  }
  hak_free(b.p);
  w->frees++;
}

static void op_realloc(worker *w)
{
  size_t i = (size_t)(rng_next(&w->rng) % w->nlive);
  block b = live_take(w, i);
  check_block(w, &b, "before realloc");
  size_t new_size;
  uint64_t r = rng_next(&w->rng) % 4;
  if (r == 0) new_size = b.size + 1 + (size_t)(rng_next(&w->rng) % 64);         /* grow a little */
  else if (r == 1) new_size = b.size / 2 + 1;                                      /* shrink */
  else new_size = pick_size(&w->rng);                                              /* anywhere */
  unsigned char *q = hak_realloc(b.p, new_size);
  check_new(w, q, new_size, 16, "hak_realloc");
  /* The prefix still holds the old block's pattern (keyed on its old address). */
  size_t keep = b.size < new_size ? b.size : new_size;
  size_t off = verify_key(q, b.size, keep, b.p);
  if (off != (size_t)-1)
    die("thread %d: hak_realloc(%p, %zu -> %zu) = %p: prefix byte %zu is 0x%02x, want 0x%02x", w->id, (void *)b.p,
        b.size, new_size, (void *)q, off, q[off], pattern_byte(pattern_seed(b.p, b.size), off));
  block nb = {.p = q, .size = new_size, .align = 16, .origin = O_REALLOC, .owner = (uint8_t)w->id};
  fill(q, new_size);
  w->reallocs++;
  w->live[w->nlive++] = nb;
  w->live_bytes += nb.size;
  w->bytes_allocated += new_size;
}

static double now_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *worker_main(void *arg)
{
  worker *w = arg;
  double deadline = now_seconds() + run_seconds;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    for (int k = 0; k < 256; k++) {
      w->ops++;
      uint64_t r = rng_next(&w->rng) % 1000;
      int full = w->nlive >= LIVE_MAX_BLOCKS - 1 || w->live_bytes >= LIVE_MAX_BYTES;
      if (w->nlive == 0 || (!full && r < 470)) {
        op_alloc(w);
      } else if (r < 480 && !full) {
        op_batch(w);
      } else if (r < 560) {
        op_realloc(w);
      } else if (r < 570) {
        op_free_batch(w);
      } else {
        op_free(w);
      }
    }
    if ((w->ops & 1023) == 0) mailbox_drain(w);
    /* hak_trim now and then, concurrently with the other threads' work */
    if (rng_next(&w->rng) % 2000 == 0) {
      hak_trim();
      w->trims++;
    }
    if (now_seconds() >= deadline) atomic_store_explicit(&stop, 1, memory_order_relaxed);
  }
  /* Wind down: free everything still live here, send the outbox away; once
   * every thread is past the barrier nobody sends anything any more, so the
   * last drain empties the mailbox for good. */
  while (w->nlive > 0) {
    block b = live_take(w, w->nlive - 1);
    check_block(w, &b, "at the end");
    hak_free(b.p);
    w->frees++;
  }
  outbox_flush(w);
  pthread_barrier_wait(&done_barrier);
  mailbox_drain(w);
  atomic_fetch_add(&workers_done, 1);
  return NULL;
}

/* The main thread meanwhile: statistics snapshots while the workers run
 * (the per-thread counters are read without stopping their threads). */
static uint64_t monitor(void)
{
  uint64_t snapshots = 0;
  struct timespec pause = {0, 20 * 1000 * 1000};
  while (atomic_load(&workers_done) < nthreads) {
    hak_stats_t s;
    memset(&s, 0, sizeof s);
    if (hak_stats(&s) != HAK_OK || s.size != sizeof s) die("hak_stats failed during the run (size %llu)", U(s.size));
    if (snapshots % 8 == 0) {
      const char *json = hak_stats_json();
      if (!json_valid(json)) die("hak_stats_json during the run is not valid JSON: %.200s", json ? json : "(null)");
    }
    snapshots++;
    nanosleep(&pause, NULL);
  }
  return snapshots;
}

int main(int argc, char **argv)
{
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s THREADS SECONDS [SEED]\n", argv[0]);
    return 2;
  }
  char *end;
  long threads = strtol(argv[1], &end, 10);
  if (*end || threads < 1 || threads > 200) {
    fprintf(stderr, "stress: THREADS must be 1..200, not '%s'\n", argv[1]);
    return 2;
  }
  run_seconds = strtod(argv[2], &end);
  if (*end || !(run_seconds > 0) || run_seconds > 7 * 86400) {
    fprintf(stderr, "stress: SECONDS must be a positive number, not '%s'\n", argv[2]);
    return 2;
  }
  seed = argc == 4 ? strtoull(argv[3], NULL, 0) : (uint64_t)time(NULL);
  nthreads = (int)threads;

  workers = calloc((size_t)nthreads, sizeof *workers);
  mailboxes = calloc((size_t)nthreads, sizeof *mailboxes);
  if (!workers || !mailboxes) die("libc calloc failed");
  pthread_barrier_init(&done_barrier, NULL, (unsigned)nthreads);
  /* Every mailbox exists before any thread can send to it. */
  for (int i = 0; i < nthreads; i++) pthread_mutex_init(&mailboxes[i].lock, NULL);
  double t0 = now_seconds();
  for (int i = 0; i < nthreads; i++) {
    worker *w = &workers[i];
    w->id = i;
    w->rng = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xD1B54A32D192ED03ull + 1;
    if (w->rng == 0) w->rng = 1;
    w->live = malloc(LIVE_MAX_BLOCKS * sizeof *w->live);
    if (!w->live) die("libc malloc failed");
    int rc = pthread_create(&w->tid, NULL, worker_main, w);
    if (rc) die("pthread_create: %s", strerror(rc));
  }
  uint64_t snapshots = monitor();
  worker total = {0};
  for (int i = 0; i < nthreads; i++) {
    worker *w = &workers[i];
    pthread_join(w->tid, NULL);
    total.ops += w->ops;
    total.allocs += w->allocs;
    total.frees += w->frees;
    total.remote_sent += w->remote_sent;
    total.remote_freed += w->remote_freed;
    total.reallocs += w->reallocs;
    total.bytes_allocated += w->bytes_allocated;
    total.trims += w->trims;
    free(w->live);
    free(mailboxes[i].items);
    pthread_mutex_destroy(&mailboxes[i].lock);
  }
  double elapsed = now_seconds() - t0;
  pthread_barrier_destroy(&done_barrier);

  if (total.remote_sent != total.remote_freed)
    die("%llu blocks sent to other threads but %llu freed there", U(total.remote_sent), U(total.remote_freed));
  if (total.allocs != total.frees)
    die("%llu blocks allocated but %llu freed (reallocs excluded: %llu)", U(total.allocs), U(total.frees),
        U(total.reallocs));

  size_t released = hak_trim();
  hak_stats_t s = stats_now();
  /* Every block was freed: the live byte count (class sizes plus large
   * mappings, summed over every heap including the exited threads') is 0. */
  if (s.bytes_in_use != 0)
    die("bytes_in_use = %llu after every block was freed and hak_trim() (allocs %llu frees %llu, small %llu/%llu,"
        " large %llu/%llu)",
        U(s.bytes_in_use), U(s.allocs), U(s.frees), U(s.small_allocs), U(s.small_frees), U(s.large_allocs),
        U(s.large_frees));
  if (s.large_allocs != s.large_frees)
    die("large_allocs %llu != large_frees %llu at the end", U(s.large_allocs), U(s.large_frees));

  printf("stress: ok: seed %llu, %d threads, %.2f s, %llu ops (%.0f ops/s), %llu allocations, %.1f MiB allocated, "
         "%llu reallocs, %llu remote frees, %llu trims, %llu stats snapshots; at the end bytes_in_use %llu, superslabs live %llu "
         "cached %llu, hak_trim released %zu bytes, rss peak %.1f MiB\n",
         U(seed), nthreads, elapsed, U(total.ops), (double)total.ops / elapsed, U(total.allocs),
         (double)total.bytes_allocated / (double)MiB, U(total.reallocs), U(total.remote_freed), U(total.trims), U(snapshots),
         U(s.bytes_in_use), U(s.superslabs_live), U(s.superslabs_cached), released,
         (double)s.rss_peak / (double)MiB);
  free(workers);
  free(mailboxes);
  return 0;
}
