/* realloc_walk [STEPS]: buffers resized at random across every tier.
 *
 * 64 buffers, each resized STEPS / 64 times by one of the moves programs
 * make: +64 bytes (a string builder), x2 (a vector), +1 or -1 byte, half,
 * a random size from 1 byte to 1 MiB (log-uniform), and now and then
 * realloc(NULL, n) after a free. The bytes a buffer keeps are a pattern of
 * its id and offset: after every call the kept prefix is checked at its
 * ends and at random places, every byte at the end, and malloc_usable_size
 * must cover the size asked for. The sizes cross the slab classes, the move
 * from the slab tier to the large tier, growth within a large block's
 * pages, in place and by moving, so every branch of realloc is taken many
 * times, in orders no one wrote by hand. Passes under glibc alone too. */
#include <malloc.h>
#include <stdint.h>
#include "adversarial.h"

enum { BUFFERS = 64, MAX_SIZE = 1 << 20 };

static uint32_t rng = 0x9E3779B9u;
static uint32_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static uint8_t pattern(unsigned id, size_t offset) { return (uint8_t)(id * 167u + offset * 31u + (offset >> 9)); }

static void write_pattern(unsigned id, uint8_t *p, size_t from, size_t to) {
  for (size_t o = from; o < to; o++) p[o] = pattern(id, o);
}

static void check_at(unsigned id, const uint8_t *p, size_t o, long step) {
  if (p[o] != pattern(id, o))
    fail("step %ld: buffer %u lost byte %zu (0x%02x, want 0x%02x)", step, id, o, p[o], pattern(id, o));
}

/* The kept prefix [0, n): its first and last 64 bytes and 16 random places. */
static void check_kept(unsigned id, const uint8_t *p, size_t n, long step) {
  for (size_t o = 0; o < n && o < 64; o++) check_at(id, p, o, step);
  for (size_t o = n > 64 ? n - 64 : 0; o < n; o++) check_at(id, p, o, step);
  for (int k = 0; k < 16 && n > 0; k++) check_at(id, p, next_random() % n, step);
}

static size_t random_size(void) {
  unsigned bits = next_random() % 21; /* 1 B .. 1 MiB, log-uniform */
  size_t n = ((size_t)1 << bits) + next_random() % ((size_t)1 << bits);
  return n > MAX_SIZE ? MAX_SIZE : n;
}

static size_t next_size(size_t size) {
  size_t n;
  switch (next_random() % 8) {
  case 0: case 1: n = size + 64; break;
  case 2: n = size * 2; break;
  case 3: n = size + 1; break;
  case 4: n = size > 1 ? size - 1 : 1; break;
  case 5: n = size / 2 ? size / 2 : 1; break;
  default: n = random_size(); break;
  }
  return n > MAX_SIZE ? MAX_SIZE : n;
}

int main(int argc, char **argv) {
  long steps = argc > 1 ? atol(argv[1]) : 200000;
  uint8_t *buf[BUFFERS];
  size_t size[BUFFERS];
  for (unsigned i = 0; i < BUFFERS; i++) {
    size[i] = random_size();
    buf[i] = malloc(size[i]);
    if (!buf[i]) fail("malloc(%zu) = NULL", size[i]);
    write_pattern(i, buf[i], 0, size[i]);
  }
  long moved = 0, kept = 0;
  for (long step = 0; step < steps; step++) {
    unsigned id = next_random() % BUFFERS;
    size_t n = next_size(size[id]);
    uint8_t *q;
    if (next_random() % 64 == 0) { /* a fresh buffer through realloc(NULL, n) */
      free(buf[id]);
      q = realloc(NULL, n);
      if (!q) fail("step %ld: realloc(NULL, %zu) = NULL", step, n);
      size[id] = 0;
    } else {
      q = realloc(buf[id], n);
      if (!q) fail("step %ld: realloc(%p, %zu) = NULL", step, (void *)buf[id], n);
      moved += q != buf[id];
      kept += q == buf[id];
    }
    size_t keep = size[id] < n ? size[id] : n;
    check_kept(id, q, keep, step);
    if (malloc_usable_size(q) < n) fail("step %ld: malloc_usable_size %zu < %zu", step, malloc_usable_size(q), n);
    write_pattern(id, q, keep, n);
    buf[id] = q;
    size[id] = n;
  }
  for (unsigned i = 0; i < BUFFERS; i++) {
    for (size_t o = 0; o < size[i]; o++) check_at(i, buf[i], o, steps);
    free(buf[i]);
  }
  printf("ok %ld reallocs (%ld in place, %ld moved), contents intact\n", steps, kept, moved);
  return 0;
}
