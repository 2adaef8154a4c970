/* fuzz_alloc — libFuzzer target for the hak_* API.
 *
 * The input is read as a sequence of operations (one opcode byte, then its
 * arguments; a short input simply ends early) run against a shadow model: a
 * table of live blocks with their size, alignment and fill byte, and a ring
 * of recently freed pointers. Because the model holds every hakmem block of
 * the process, it can check more than each call's result:
 *
 *   - contents: every block is filled over its whole usable size with its
 *     own byte (blocks over 68 KiB: head, tail and a stripe every 64 KiB)
 *     and checked before it is freed or reallocated (overlapping or
 *     twice-handed-out blocks show up), calloc memory is zero, realloc keeps
 *     the prefix;
 *   - alignment (16, or what hak_aligned_alloc asked for);
 *   - hak_usable_size(p) >= size for live blocks, 0 for anything else;
 *   - hak_owns / hak_block_state: 1 / LIVE exactly for the start of a live
 *     block (checked on live blocks, on freed pointers, on addresses inside
 *     and around live blocks), never LIVE for anything else;
 *   - hak_free_checked refuses freed pointers and leaves them alone;
 *   - absurd sizes and alignments fail with NULL;
 *   - frees from other threads (remote frees) and blocks of threads that
 *     have exited (abandoned heaps), hak_trim in between.
 *
 * Every block is freed at the end of each input, so each input starts with
 * an empty model (hakmem's caches carry over, as in a real program).
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined and
 * the library sources compiled in; `make fuzz-run FUZZ_SECONDS=60` runs it
 * on the seed corpus in csrc/fuzz/corpus. HAKMEM_* variables in the
 * environment configure the allocator as usual (e.g. HAKMEM_CHECK=1).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

#define SLOTS 64
#define STALE 32
#define MAX_THREADS_PER_INPUT 6
#define MAX_OPS_PER_INPUT 2000

typedef struct slot {
  unsigned char *p;    /* NULL: empty */
  size_t size;         /* bytes asked for */
  size_t usable;       /* hak_usable_size at allocation: all of it is filled */
  size_t align;        /* alignment asked for (16 when none) */
  unsigned char fill;
} slot;

static slot slots[SLOTS];
static void *stale[STALE]; /* recently freed pointers (may have been reused since) */
static unsigned nstale, stale_next;
static unsigned char fill_counter;
static unsigned threads_this_input;

/* ---- input ------------------------------------------------------------------ */

typedef struct input { const uint8_t *d; size_t n, i; } input;

static uint8_t u8(input *in) { return in->i < in->n ? in->d[in->i++] : 0; }
static uint16_t u16(input *in) { return (uint16_t)(u8(in) | u8(in) << 8); }
static uint32_t u32(input *in) { return (uint32_t)u16(in) | (uint32_t)u16(in) << 16; }

static const size_t boundary_sizes[] = {
    0,     1,     7,     8,     15,    16,    17,    31,    32,     33,     48,      64,      100,     127,
    128,   129,   255,   256,   257,   511,   512,   513,   1023,   1024,   1025,    2047,    2048,    4095,
    4096,  4097,  8191,  8192,  8193,  16383, 16384, 16385, 32767,  32768,  32769,   49152,   65535,   65536,
    65537, 65552, 98304, 131071, 131072, 131073, 262144, 524288, 1048575, 1048576, 1048577, 2097152, 4194304};
#define NBOUNDARY (sizeof boundary_sizes / sizeof boundary_sizes[0])

/* Sizes from 0 to 4 MiB, mostly small, every class boundary reachable. */
static size_t read_size(input *in)
{
  uint8_t mode = u8(in);
  uint16_t r = u16(in);
  switch (mode & 15) {
  case 0: case 1: case 2: case 3: case 4: case 5: return r % 129;
  case 6: case 7: case 8: return r % 1025;
  case 9: case 10: return r % 8193;
  case 11: case 12: return r % 65537u + (mode >> 7);
  case 13: return (mode & 0x40) ? 65536 + (size_t)r * 16 : 65536 + (size_t)r * 61; /* 64 KiB .. ~4 MiB */
  default: return boundary_sizes[r % NBOUNDARY];
  }
}

/* ---- failures -------------------------------------------------------------- */

static __attribute__((noreturn, format(printf, 1, 2))) void fail(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz_alloc: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

/* ---- contents ----------------------------------------------------------------- */
/* The bytes of a block that are filled and checked: every byte of a block
 * up to FULL_LIMIT; of a larger one the first and last EDGE bytes and a
 * STRIPE every STRIDE bytes between (filling all of a 4 MiB block costs a
 * thousand page faults per allocation and held the fuzzer to ~60 inputs/s;
 * two large blocks that overlapped would still clobber each other's stripes). */
#define FULL_LIMIT ((size_t)68 << 10)
#define EDGE ((size_t)16 << 10)
#define STRIDE ((size_t)64 << 10)
#define STRIPE ((size_t)64)

static unsigned char pattern_block[65536];
static int pattern_byte_now = -1;

/* Offset of the first byte in [p, p+n) that is not `byte`, or (size_t)-1. */
static size_t find_mismatch(const unsigned char *p, size_t n, unsigned char byte)
{
  if (pattern_byte_now != byte) {
    memset(pattern_block, byte, sizeof pattern_block);
    pattern_byte_now = byte;
  }
  for (size_t off = 0; off < n; off += sizeof pattern_block) {
    size_t len = n - off < sizeof pattern_block ? n - off : sizeof pattern_block;
    if (memcmp(p + off, pattern_block, len) != 0) {
      for (size_t i = 0; i < len; i++)
        if (p[off + i] != byte) return off + i;
    }
  }
  return (size_t)-1;
}

/* Fills (do_fill) or checks the sampled bytes of a block of `usable` bytes,
 * only those below `limit`. Returns the offset of the first wrong byte, or
 * (size_t)-1. */
static size_t scan(unsigned char *p, size_t usable, size_t limit, unsigned char byte, int do_fill)
{
  if (limit > usable) limit = usable;
  int sampled = usable > FULL_LIMIT;
  size_t tail = usable - EDGE;
  size_t off = 0;
  while (off < limit) {
    size_t len;
    if (!sampled) len = limit - off;
    else if (off < EDGE) len = EDGE - off;
    else if (off >= tail) len = usable - off;
    else len = off + STRIPE <= tail ? STRIPE : tail - off;
    if (off + len > limit) len = limit - off;
    if (do_fill) {
      memset(p + off, byte, len);
    } else {
      size_t m = find_mismatch(p + off, len, byte);
      if (m != (size_t)-1) return off + m;
    }
    off += len;
    if (sampled && off >= EDGE && off < tail) {
      size_t next = (off + STRIDE - 1) / STRIDE * STRIDE; /* the next stripe, or the tail */
      off = next < tail ? next : tail;
    }
  }
  return (size_t)-1;
}

static void check_contents(const slot *s, int idx, const char *when)
{
  size_t off = scan(s->p, s->usable, s->usable, s->fill, 0);
  if (off != (size_t)-1)
    fail("%s: slot %d block %p (size %zu, usable %zu, align %zu): byte %zu is 0x%02x, want 0x%02x", when, idx,
         (void *)s->p, s->size, s->usable, s->align, off, s->p[off], s->fill);
}

/* ---- the model ---------------------------------------------------------------- */

static int model_has_start(const void *p)
{
  for (int i = 0; i < SLOTS; i++)
    if (slots[i].p && slots[i].p == p) return 1;
  return 0;
}

static void remember_freed(void *p)
{
  stale[stale_next] = p;
  stale_next = (stale_next + 1) % STALE;
  if (nstale < STALE) nstale++;
}

/* A new block p of `size` bytes asked with alignment `align` goes into slot idx. */
static void adopt(int idx, unsigned char *p, size_t size, size_t align, const char *fn)
{
  if (!p) fail("%s(%zu) returned NULL (errno %d)", fn, size, errno);
  size_t want_align = align < 16 ? 16 : align;
  if ((uintptr_t)p & (want_align - 1)) fail("%s(%zu) = %p: not aligned to %zu", fn, size, (void *)p, want_align);
  if (model_has_start(p)) fail("%s(%zu) = %p: that block is already live", fn, size, (void *)p);
  int state = hak_block_state(p);
  if (state != HAK_BLOCK_LIVE || hak_owns(p) != 1)
    fail("%s(%zu) = %p (alignment %zu): hak_block_state %d, hak_owns %d, hak_usable_size %zu for a new block", fn,
         size, (void *)p, want_align, state, hak_owns(p), hak_usable_size(p));
  size_t usable = hak_usable_size(p);
  if (usable < size) fail("%s(%zu) = %p: hak_usable_size %zu < size", fn, size, (void *)p, usable);
  slot *s = &slots[idx];
  s->p = p;
  s->size = size;
  s->usable = usable;
  s->align = want_align;
  s->fill = (unsigned char)(++fill_counter * 37u + 11u);
  scan(p, usable, usable, s->fill, 1);
}

/* After p was freed (and is not the start of any live block): hakmem must say so. */
static void check_gone(const void *p, const char *when)
{
  if (model_has_start(p)) return; /* handed out again since */
  int state = hak_block_state(p);
  if (state == HAK_BLOCK_LIVE || hak_owns(p) != 0 || hak_usable_size(p) != 0)
    fail("%s: freed pointer %p: hak_block_state %d, hak_owns %d, hak_usable_size %zu", when, p, state, hak_owns(p),
         hak_usable_size(p));
}

static void release(int idx, const char *when)
{
  slot *s = &slots[idx];
  if (!s->p) return;
  check_contents(s, idx, when);
  void *p = s->p;
  hak_free(p);
  s->p = NULL;
  check_gone(p, when);
  remember_freed(p);
}

/* ---- threads ----------------------------------------------------------------------- */

struct job { void *p; size_t size; unsigned char fill; };

static void *remote_free_job(void *arg)
{
  struct job *j = arg;
  hak_free(j->p);
  return NULL;
}

/* Allocates and fills in its own heap, then exits: the heap is abandoned
 * with the block live, and main frees it later from its own. */
static void *foreign_alloc_job(void *arg)
{
  struct job *j = arg;
  j->p = hak_malloc(j->size);
  return NULL;
}

static int run_thread(void *(*fn)(void *), struct job *j)
{
  if (threads_this_input >= MAX_THREADS_PER_INPUT) return 0;
  threads_this_input++;
  pthread_t t;
  if (pthread_create(&t, NULL, fn, j) != 0) return 0;
  pthread_join(t, NULL);
  return 1;
}

/* ---- operations ------------------------------------------------------------------------ */

enum {
  OP_MALLOC, OP_FREE, OP_REALLOC, OP_ALIGNED, OP_CALLOC, OP_QUERY, OP_BATCH_ALLOC, OP_BATCH_FREE,
  OP_STALE, OP_REMOTE_FREE, OP_FOREIGN_ALLOC, OP_TRIM, OP_FREE_CHECKED, OP_PROBE, OP_ABSURD, NOPS
};

static void op_malloc(input *in)
{
  int idx = u8(in) % SLOTS;
  size_t size = read_size(in);
  release(idx, "slot reused by malloc");
  errno = 0;
  void *p = hak_malloc(size);
  if (!p && size == 0) return; /* malloc(0) may return NULL */
  adopt(idx, p, size, 16, "hak_malloc");
}

static void op_realloc(input *in)
{
  int idx = u8(in) % SLOTS;
  size_t size = read_size(in);
  slot *s = &slots[idx];
  if (!s->p) {
    void *p = hak_realloc(NULL, size);
    if (!p && size == 0) return;
    adopt(idx, p, size, 16, "hak_realloc(NULL)");
    return;
  }
  check_contents(s, idx, "before realloc");
  slot old = *s;
  if (size == 0) {
    void *r = hak_realloc(old.p, 0); /* frees, like hak_free */
    if (r) fail("hak_realloc(%p, 0) = %p, want NULL (the block freed)", (void *)old.p, r);
    s->p = NULL;
    check_gone(old.p, "hak_realloc(p, 0)");
    remember_freed(old.p);
    return;
  }
  unsigned char *q = hak_realloc(old.p, size);
  if (!q) fail("hak_realloc(%p, %zu -> %zu) returned NULL (errno %d)", (void *)old.p, old.size, size, errno);
  size_t keep = old.size < size ? old.size : size;
  size_t off = scan(q, old.usable, keep, old.fill, 0); /* the bytes filled in the old block, up to keep */
  if (off != (size_t)-1)
    fail("hak_realloc(%p, %zu -> %zu) = %p: prefix byte %zu is 0x%02x, want 0x%02x", (void *)old.p, old.size, size,
         (void *)q, off, q[off], old.fill);
  s->p = NULL;
  if (q != old.p) {
    check_gone(old.p, "hak_realloc moved the block");
    remember_freed(old.p);
  }
  adopt(idx, q, size, 16, "hak_realloc");
}

static void op_aligned(input *in)
{
  int idx = u8(in) % SLOTS;
  uint8_t a = u8(in);
  size_t size = read_size(in);
  if ((a & 0xE0) == 0xE0) {
    /* not a power of two (or zero): refused */
    size_t bad = (a & 1) ? 0 : (size_t)3 << (a % 20);
    errno = 0;
    void *p = hak_aligned_alloc(bad, size);
    if (p || errno != EINVAL) fail("hak_aligned_alloc(%zu, %zu) = %p errno %d, want NULL and EINVAL", bad, size, p, errno);
    return;
  }
  size_t align = (size_t)1 << (a % 23); /* 1 .. 4 MiB */
  release(idx, "slot reused by aligned_alloc");
  void *p = hak_aligned_alloc(align, size);
  if (!p && size == 0) return;
  adopt(idx, p, size, align, "hak_aligned_alloc");
}

static void op_calloc(input *in)
{
  int idx = u8(in) % SLOTS;
  size_t count = u8(in) % 65;
  size_t each = read_size(in);
  if (count * each > ((size_t)4 << 20)) each = ((size_t)4 << 20) / (count ? count : 1);
  release(idx, "slot reused by calloc");
  unsigned char *p = hak_calloc(count, each);
  size_t size = count * each;
  if (!p && size == 0) return;
  if (!p) fail("hak_calloc(%zu, %zu) returned NULL (errno %d)", count, each, errno);
  size_t off = scan(p, size, size, 0, 0);
  if (off != (size_t)-1) fail("hak_calloc(%zu, %zu) = %p: byte %zu is 0x%02x", count, each, (void *)p, off, p[off]);
  adopt(idx, p, size, 16, "hak_calloc");
}

/* Everything hakmem says about a live block and the addresses inside it. */
static void op_query(input *in)
{
  int idx = u8(in) % SLOTS;
  uint32_t r = u32(in);
  slot *s = &slots[idx];
  if (hak_owns(NULL) != 0 || hak_usable_size(NULL) != 0 || hak_block_state(NULL) != HAK_BLOCK_FOREIGN)
    fail("NULL: hak_owns %d, hak_usable_size %zu, state %d", hak_owns(NULL), hak_usable_size(NULL),
         hak_block_state(NULL));
  if (!s->p) return;
  check_contents(s, idx, "query");
  if (hak_owns(s->p) != 1 || hak_block_state(s->p) != HAK_BLOCK_LIVE)
    fail("live block %p: hak_owns %d, state %d", (void *)s->p, hak_owns(s->p), hak_block_state(s->p));
  size_t usable = hak_usable_size(s->p);
  if (usable != s->usable) fail("live block %p: hak_usable_size changed from %zu to %zu", (void *)s->p, s->usable, usable);
  if (s->usable > 1) {
    size_t off = 1 + r % (s->usable - 1);
    const unsigned char *inside = s->p + off;
    int state = hak_block_state(inside);
    if (state == HAK_BLOCK_LIVE || hak_owns(inside) || hak_usable_size(inside))
      fail("%p, %zu bytes into live block %p (usable %zu): state %d, hak_owns %d, hak_usable_size %zu", (void *)inside,
           off, (void *)s->p, s->usable, state, hak_owns(inside), hak_usable_size(inside));
  }
}

static void op_batch_alloc(input *in)
{
  int first = u8(in) % SLOTS;
  size_t count = 1 + u8(in) % 16;
  size_t size = read_size(in) % 65537;
  void *out[16];
  for (size_t k = 0; k < count; k++) release((first + (int)k) % SLOTS, "slot reused by malloc_batch");
  size_t got = hak_malloc_batch(size, count, out);
  if (got != count) fail("hak_malloc_batch(%zu, %zu) allocated %zu", size, count, got);
  for (size_t k = 0; k < count; k++) adopt((first + (int)k) % SLOTS, out[k], size, 16, "hak_malloc_batch");
}

static void op_batch_free(input *in)
{
  int first = u8(in) % SLOTS;
  size_t count = 1 + u8(in) % 16;
  uint16_t nulls = u16(in);
  void *ptrs[32];
  size_t n = 0;
  for (size_t k = 0; k < count; k++) {
    int idx = (first + (int)k) % SLOTS;
    if (nulls & (1u << k)) ptrs[n++] = NULL; /* skipped by hak_free_batch */
    slot *s = &slots[idx];
    if (!s->p) continue;
    check_contents(s, idx, "before hak_free_batch");
    ptrs[n++] = s->p;
    s->p = NULL;
  }
  hak_free_batch(ptrs, n);
  for (size_t k = 0; k < n; k++)
    if (ptrs[k]) {
      check_gone(ptrs[k], "hak_free_batch");
      remember_freed(ptrs[k]);
    }
}

/* A freed pointer stays refused until it is handed out again. */
static void op_stale(input *in)
{
  uint8_t k = u8(in);
  if (nstale == 0) return;
  void *p = stale[k % nstale];
  if (model_has_start(p)) return;
  check_gone(p, "stale pointer");
  int rc = hak_free_checked(p); /* must refuse, and change nothing */
  if (rc != HAK_E_DOUBLE_FREE && rc != HAK_E_FOREIGN)
    fail("hak_free_checked(freed %p) = %d, want HAK_E_DOUBLE_FREE or HAK_E_FOREIGN", p, rc);
}

static void op_remote_free(input *in)
{
  int idx = u8(in) % SLOTS;
  slot *s = &slots[idx];
  if (!s->p) return;
  check_contents(s, idx, "before remote free");
  struct job j = {.p = s->p};
  if (!run_thread(remote_free_job, &j)) return;
  s->p = NULL;
  check_gone(j.p, "freed by another thread");
  remember_freed(j.p);
}

static void op_foreign_alloc(input *in)
{
  int idx = u8(in) % SLOTS;
  size_t size = read_size(in);
  struct job j = {.size = size};
  release(idx, "slot reused by a thread's allocation");
  if (!run_thread(foreign_alloc_job, &j)) return;
  if (!j.p && size == 0) return;
  adopt(idx, j.p, size, 16, "hak_malloc in an exited thread");
}

static void op_free_checked(input *in)
{
  int idx = u8(in) % SLOTS;
  slot *s = &slots[idx];
  if (!s->p) return;
  check_contents(s, idx, "before hak_free_checked");
  void *p = s->p;
  int rc = hak_free_checked(p);
  if (rc != HAK_OK) fail("hak_free_checked(live %p) = %d", p, rc);
  s->p = NULL;
  check_gone(p, "hak_free_checked");
  remember_freed(p);
}

/* Any address near a live block: hak_owns is 1 exactly for block starts. */
static void op_probe(input *in)
{
  int idx = u8(in) % SLOTS;
  int32_t delta = (int32_t)u32(in);
  uint8_t shift = u8(in) % 8;
  static const unsigned char global_byte = 1;
  unsigned char local_byte = 2;
  const unsigned char *libc_block = malloc(32);
  const void *fixed[] = {&global_byte, &local_byte, libc_block, (void *)(uintptr_t)1, (void *)(uintptr_t)4096,
                         (void *)(uintptr_t)-16, (void *)((uintptr_t)1 << 47)};
  for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
    if (hak_owns(fixed[k]) || hak_block_state(fixed[k]) != HAK_BLOCK_FOREIGN || hak_usable_size(fixed[k]))
      fail("foreign address %p: hak_owns %d, state %d", fixed[k], hak_owns(fixed[k]), hak_block_state(fixed[k]));
  free((void *)libc_block);
  if (!slots[idx].p) return;
  const unsigned char *q = slots[idx].p + ((intptr_t)delta >> shift);
  int owns = hak_owns(q), state = hak_block_state(q);
  int is_start = model_has_start(q);
  if (owns != is_start || (state == HAK_BLOCK_LIVE) != is_start)
    fail("%p (%+ld from live block %p): hak_owns %d, state %d, but it %s the start of a live block", (void *)q,
         (long)((intptr_t)delta >> shift), (void *)slots[idx].p, owns, state, is_start ? "is" : "is not");
}

/* Requests no machine can satisfy fail cleanly. */
static void op_absurd(input *in)
{
  uint8_t k = u8(in);
  static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 15, SIZE_MAX - 4096, (size_t)1 << 63, (size_t)1 << 62,
                                PTRDIFF_MAX, (size_t)1 << 50, ((size_t)1 << 48) + 1};
  size_t size = huge[k % 8];
  void *p;
  switch ((k >> 3) % 5) {
  case 0: p = hak_malloc(size); break;
  case 1: p = hak_calloc(size, 1); break;
  case 2: p = hak_calloc((size_t)1 << 33, (size_t)1 << 33); break; /* the product overflows */
  case 3: p = hak_aligned_alloc(k & 0x80 ? (size_t)1 << 62 : 4096, size); break;
  default: {
    /* a failed realloc leaves the block as it was */
    int idx = k % SLOTS;
    slot *s = &slots[idx];
    if (!s->p) return;
    p = hak_realloc(s->p, size);
    if (!p) check_contents(s, idx, "after a failed hak_realloc");
    break;
  }
  }
  if (p) fail("request for %zu bytes (case %d) succeeded: %p", size, (k >> 3) % 5, p);
}

/* ---- entry points ---------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  /* Small caches (unless the environment says otherwise): eviction paths run
   * often and memory stays bounded across millions of inputs. */
  if (!getenv("HAKMEM_SS_LRU_MAX_CACHED")) hak_config_set("SS_LRU_MAX_CACHED", "4");
  if (!getenv("HAKMEM_ACE_MAX_CACHED")) hak_config_set("ACE_MAX_CACHED", "8");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  input in = {data, size, 0};
  threads_this_input = 0;
  for (int ops = 0; in.i < in.n && ops < MAX_OPS_PER_INPUT; ops++) {
    switch (u8(&in) % NOPS) {
    case OP_MALLOC: op_malloc(&in); break;
    case OP_FREE: release(u8(&in) % SLOTS, "free"); break;
    case OP_REALLOC: op_realloc(&in); break;
    case OP_ALIGNED: op_aligned(&in); break;
    case OP_CALLOC: op_calloc(&in); break;
    case OP_QUERY: op_query(&in); break;
    case OP_BATCH_ALLOC: op_batch_alloc(&in); break;
    case OP_BATCH_FREE: op_batch_free(&in); break;
    case OP_STALE: op_stale(&in); break;
    case OP_REMOTE_FREE: op_remote_free(&in); break;
    case OP_FOREIGN_ALLOC: op_foreign_alloc(&in); break;
    case OP_TRIM: hak_trim(); break;
    case OP_FREE_CHECKED: op_free_checked(&in); break;
    case OP_PROBE: op_probe(&in); break;
    default: op_absurd(&in); break;
    }
  }
  for (int i = 0; i < SLOTS; i++) release(i, "end of input");
  nstale = stale_next = 0;
  return 0;
}
