/* test_scaling N
 *
 * Memory overhead of many small blocks: allocates N blocks of 16 bytes, writes
 * every byte of each, and reports how much the resident set grew because of
 * them. The pointer array comes from mmap and is touched before the baseline
 * is taken, so neither it nor the allocator being measured pays for it. The
 * resident set counted is the anonymous part (resident less file-backed and
 * shared pages, /proc/self/statm, read with plain read(2), which allocates
 * nothing): the first malloc also faults in the allocator's code, 90 to 130
 * KB of library text for every allocator here (one block of 16 bytes: glibc
 * 114 KB, hakmem 94 KB), unless it ran before main (tcmalloc: 0), and that is
 * no overhead of the blocks.
 *
 * Output: Scaling: blocks=N data_bytes=D rss_bytes=R overhead_pct=P
 *   rss_bytes     anonymous RSS growth between the baseline and the last block written
 *   overhead_pct  100 * (rss_bytes - data_bytes) / data_bytes
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BLOCK_SIZE 16
#define MAX_BLOCKS ((size_t)1 << 32)

static volatile unsigned char checksum_sink;

static void usage(void) {
  fprintf(stderr,
          "usage: test_scaling N\n"
          "  N  number of %d-byte blocks, 1..%zu\n",
          BLOCK_SIZE, MAX_BLOCKS);
  exit(2);
}

static size_t parse_count(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < 1 || v > MAX_BLOCKS) usage();
  return (size_t)v;
}

/* Anonymous resident set size in bytes: the second field of /proc/self/statm
 * (resident) less the third (file-backed and shared), in pages. */
static size_t rss_bytes_now(void) {
  char buf[256];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    perror("test_scaling: /proc/self/statm");
    exit(1);
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) {
    fprintf(stderr, "test_scaling: cannot read /proc/self/statm\n");
    exit(1);
  }
  buf[n] = '\0';
  const char *p = buf;
  while (*p != '\0' && *p != ' ') p++; /* skip the first field (size) */
  size_t resident = 0, shared = 0;
  for (p++; *p >= '0' && *p <= '9'; p++) resident = resident * 10 + (size_t)(*p - '0');
  for (p++; *p >= '0' && *p <= '9'; p++) shared = shared * 10 + (size_t)(*p - '0');
  return (resident - shared) * (size_t)sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv) {
  if (argc != 2) usage();
  size_t n = parse_count(argv[1]);

  size_t array_bytes = n * sizeof(void *);
  void **blocks = mmap(NULL, array_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (blocks == MAP_FAILED) {
    perror("test_scaling: mmap of the pointer array");
    return 1;
  }
  memset(blocks, 0, array_bytes); /* fault the array in before the baseline */

  size_t rss_before = rss_bytes_now();
  for (size_t i = 0; i < n; i++) {
    unsigned char *p = malloc(BLOCK_SIZE);
    if (p == NULL) {
      fprintf(stderr, "test_scaling: malloc(%d) failed after %zu blocks\n", BLOCK_SIZE, i);
      return 1;
    }
    memset(p, (int)(i & 0xFF), BLOCK_SIZE);
    blocks[i] = p;
  }
  size_t rss_after = rss_bytes_now();

  unsigned char checksum = 0;
  for (size_t i = 0; i < n; i++) {
    checksum ^= ((unsigned char *)blocks[i])[BLOCK_SIZE - 1];
    free(blocks[i]);
  }
  checksum_sink = checksum;
  munmap(blocks, array_bytes);

  size_t data_bytes = n * BLOCK_SIZE;
  size_t grown = rss_after > rss_before ? rss_after - rss_before : 0;
  double overhead_pct = 100.0 * ((double)grown - (double)data_bytes) / (double)data_bytes;
  printf("Scaling: blocks=%zu data_bytes=%zu rss_bytes=%zu overhead_pct=%.1f\n", n, data_bytes, grown,
         overhead_pct);
  return 0;
}
