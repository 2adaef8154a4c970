/* test_stats: hak_stats counts exactly, hak_stats_json agrees with it,
 * HAKMEM_STATS=1 prints the report at exit, and the LRU / SuperSlab debug
 * traces appear only when their flags are on. */
#include "check.h"

#define U(x) ((unsigned long long)(x))
#define MiB (1024ull * 1024)

/* Every field of hak_stats_t but `size`, as the JSON keys and report lines:
 * the one list (hakmem_stats_fields.h) the struct itself is made from. */
#define STAT_FIELDS(X) HAK_STATS_FIELDS(X)
#define COUNT_FIELD(f, ...) +1
enum { NFIELDS = 0 STAT_FIELDS(COUNT_FIELD) };

static void struct_basics(void)
{
  hak_stats_t s;
  memset(&s, 0xFF, sizeof s);
  CHECK(hak_stats(&s) == HAK_OK, "hak_stats() != HAK_OK");
  CHECK(s.size == sizeof(hak_stats_t), "size = %llu, want %zu", U(s.size), sizeof(hak_stats_t));
  CHECK(sizeof(hak_stats_t) == 8 * (1 + NFIELDS), "hak_stats_t has %zu bytes for %d fields", sizeof(hak_stats_t), NFIELDS);
  void *p = hak_malloc(100);
  s = stats_now();
  CHECK(s.rss_current > 0, "rss_current = 0");
  CHECK(s.rss_peak > 0, "rss_peak = 0");
  CHECK(s.page_faults > 0, "page_faults = 0");
  CHECK(s.superslab_bytes == 512 * 1024 || s.superslab_bytes == MiB || s.superslab_bytes == 2 * MiB ||
            s.superslab_bytes == 4 * MiB,
        "superslab_bytes = %llu", U(s.superslab_bytes));
  CHECK(s.superslabs_live >= 1 && s.slabs_in_use >= 1, "a live block but superslabs_live %llu, slabs_in_use %llu",
        U(s.superslabs_live), U(s.slabs_in_use));
  CHECK(s.os_maps >= 1 && s.os_map_bytes >= s.superslab_bytes, "os_maps %llu, os_map_bytes %llu", U(s.os_maps),
        U(s.os_map_bytes));
  hak_free(p);
}

/* Counters move by exactly the number of calls made. */
static void exact_counts(void)
{
  enum { SMALL = 700, LARGE = 30 };
  void *small[SMALL], *large[LARGE];
  hak_stats_t s0 = stats_now();
  for (int i = 0; i < SMALL; i++) small[i] = hak_malloc(1 + (size_t)i * 5);   /* up to 3.5 KiB */
  for (int i = 0; i < LARGE; i++) large[i] = hak_malloc(100000 + (size_t)i * 4096);
  hak_stats_t s1 = stats_now();
  CHECK(s1.allocs - s0.allocs == SMALL + LARGE, "allocs moved by %llu, want %d", U(s1.allocs - s0.allocs),
        SMALL + LARGE);
  CHECK(s1.small_allocs - s0.small_allocs == SMALL, "small_allocs moved by %llu, want %d",
        U(s1.small_allocs - s0.small_allocs), SMALL);
  CHECK(s1.large_allocs - s0.large_allocs == LARGE, "large_allocs moved by %llu, want %d",
        U(s1.large_allocs - s0.large_allocs), LARGE);
  CHECK(s1.frees == s0.frees, "frees moved by %llu with no free", U(s1.frees - s0.frees));
  for (int i = 0; i < SMALL; i++) hak_free(small[i]);
  for (int i = 0; i < LARGE; i++) hak_free(large[i]);
  hak_free(NULL); /* not a free of anything */
  hak_stats_t s2 = stats_now();
  CHECK(s2.frees - s1.frees == SMALL + LARGE, "frees moved by %llu, want %d", U(s2.frees - s1.frees), SMALL + LARGE);
  CHECK(s2.small_frees - s1.small_frees == SMALL, "small_frees moved by %llu", U(s2.small_frees - s1.small_frees));
  CHECK(s2.large_frees - s1.large_frees == LARGE, "large_frees moved by %llu", U(s2.large_frees - s1.large_frees));
  CHECK(s2.allocs == s1.allocs, "allocs moved during frees");
  CHECK(s2.remote_frees == s0.remote_frees, "remote_frees moved in a single thread");
  CHECK(s2.bytes_in_use == s0.bytes_in_use, "bytes_in_use %llu -> %llu after freeing all", U(s0.bytes_in_use),
        U(s2.bytes_in_use));
}

static void bytes_in_use(void)
{
  size_t sizes[] = {1000, 8000, 1 << 20};
  for (int i = 0; i < 3; i++) {
    hak_stats_t s0 = stats_now();
    void *p = hak_malloc(sizes[i]);
    hak_stats_t s1 = stats_now();
    CHECK(s1.bytes_in_use >= s0.bytes_in_use + sizes[i], "bytes_in_use %llu -> %llu for a %zu-byte block",
          U(s0.bytes_in_use), U(s1.bytes_in_use), sizes[i]);
    CHECK(s1.bytes_in_use <= s0.bytes_in_use + sizes[i] + sizes[i] / 4 + 4096,
          "bytes_in_use grew %llu for a %zu-byte block", U(s1.bytes_in_use - s0.bytes_in_use), sizes[i]);
    hak_free(p);
    hak_stats_t s2 = stats_now();
    CHECK(s2.bytes_in_use == s0.bytes_in_use, "bytes_in_use %llu after free, %llu before", U(s2.bytes_in_use),
          U(s0.bytes_in_use));
  }
}

/* hak_stats_json: valid JSON object with every field, equal to hak_stats. */
static void json(void)
{
  void *keep = hak_malloc(5000);
  hak_stats_t a = stats_now();
  const char *j = hak_stats_json();
  hak_stats_t b = stats_now();
  CHECK(j != NULL, "hak_stats_json() = NULL");
  if (!j) return;
  const char *start = json_ws(j);
  size_t n = strlen(j);
  while (n && (j[n - 1] == '\n' || j[n - 1] == ' ')) n--;
  CHECK(*start == '{' && n && j[n - 1] == '}', "not an object: %.80s", j);
  CHECK(json_valid(j), "hak_stats_json is not valid JSON: %.400s", j);
#define KEY_PRESENT(f, ...) CHECK(json_find_key(j, #f) != NULL, "hak_stats_json lacks \"%s\"", #f);
  STAT_FIELDS(KEY_PRESENT)
  /* Counters that did not move between the two snapshots must be equal. */
#define SAME_VALUE(f, ...)                                                                                \
  if (a.f == b.f && strcmp(#f, "rss_current") && strcmp(#f, "rss_peak") && strcmp(#f, "page_faults")) { \
    uint64_t v = 0;                                                                                   \
    CHECK(json_u64(j, #f, &v) && v == a.f, "json %s = %llu, hak_stats %llu", #f, U(v), U(a.f));       \
  }
  STAT_FIELDS(SAME_VALUE)
  /* Every field, even one added after this list was written: one key per
   * uint64_t of the struct (with or without "size"). */
  size_t keys = 0;
  for (const char *c = j; *c; c++) keys += *c == ':';
  size_t fields = sizeof(hak_stats_t) / sizeof(uint64_t);
  CHECK(keys == fields || keys == fields - 1, "hak_stats_json has %zu keys, hak_stats_t %zu fields", keys, fields);
  uint64_t v = 0;
  CHECK(json_u64(j, "allocs", &v) && v > 0, "json allocs = %llu", U(v));
  CHECK(json_u64(j, "rss_current", &v) && v > 0, "json rss_current = %llu", U(v));
  CHECK(json_u64(j, "rss_peak", &v) && v > 0, "json rss_peak = %llu", U(v));
  CHECK(json_u64(j, "page_faults", &v) && v > 0, "json page_faults = %llu", U(v));
  CHECK(b.allocs == a.allocs, "hak_stats_json allocated through hakmem");
  hak_free(keep);
}

/* hak_stats_print writes the same report HAKMEM_STATS=1 prints at exit. */
static void print_to_fd(void)
{
  int fds[2];
  if (pipe(fds) != 0) return;
  hak_stats_t s = stats_now();
  hak_stats_print(fds[1]);
  close(fds[1]);
  static char buf[65536];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
  buf[n] = 0;
  close(fds[0]);
  CHECK(strncmp(buf, "== hakmem stats ==\n", 19) == 0, "report starts with \"%.40s\"", buf);
  char line[64];
  snprintf(line, sizeof line, "\n  allocs: %llu\n", U(s.allocs));
  CHECK(strstr(buf, line) != NULL, "report lacks \"  allocs: %llu\": %.300s", U(s.allocs), buf);
#define LINE_PRESENT(f, ...)                                             \
  snprintf(line, sizeof line, "\n  %s: ", #f);                       \
  CHECK(strstr(buf, line) != NULL, "report lacks a line for %s", #f);
  STAT_FIELDS(LINE_PRESENT)
  size_t lines = 0, fields = sizeof(hak_stats_t) / sizeof(uint64_t);
  for (const char *c = buf; (c = strstr(c, "\n  ")) != NULL; c++) lines++;
  CHECK(lines == fields || lines == fields - 1, "report has %zu value lines, hak_stats_t %zu fields", lines, fields);
}

/* ---- re-executed children -------------------------------------------------- */

/* Child "work": a little allocation, then a normal exit (atexit runs). */
static int child_work(void)
{
  void *p[100];
  for (int i = 0; i < 100; i++) p[i] = hak_malloc(32 + (size_t)i);
  for (int i = 0; i < 100; i++) hak_free(p[i]);
  return 0;
}

/* Child "superslabs": fill and free 4 MiB of blocks twice, so SuperSlabs go
 * to the LRU cache (push) and come back from it (pop). */
static int child_superslabs(void)
{
  size_t count = 4 * MiB / 64;
  void **v = malloc(count * sizeof *v);
  for (int round = 0; round < 2; round++) {
    for (size_t i = 0; i < count; i++) v[i] = hak_malloc(64);
    for (size_t i = 0; i < count; i++) hak_free(v[i]);
  }
  free(v);
  hak_stats_t s = stats_now();
  printf("lru_push=%llu lru_pop=%llu\n", U(s.lru_push), U(s.lru_pop));
  return 0;
}

static void stats_at_exit(void)
{
  struct check_proc p;
  const char *on[] = {"HAKMEM_STATS=1", NULL};
  check_run_self("work", on, &p);
  if (check_proc_ok(&p, "HAKMEM_STATS=1")) {
    const char *head = strstr(p.err, "== hakmem stats ==");
    CHECK(head != NULL, "HAKMEM_STATS=1: no report on stderr: %.300s", p.err);
    const char *a = head ? strstr(head, "\n  allocs: ") : NULL;
    unsigned long long n = a ? strtoull(a + 11, NULL, 10) : 0;
    CHECK(n >= 100, "HAKMEM_STATS=1: allocs line says %llu, the child made 100", n);
    const char *f = head ? strstr(head, "\n  frees: ") : NULL;
    CHECK(f && strtoull(f + 10, NULL, 10) >= 100, "HAKMEM_STATS=1: frees line missing or < 100");
    CHECK(strstr(p.out, "== hakmem stats ==") == NULL, "report went to stdout");
  }
  check_proc_free(&p);

  const char *off[] = {"HAKMEM_STATS=0", NULL};
  check_run_self("work", off, &p);
  if (check_proc_ok(&p, "HAKMEM_STATS=0"))
    CHECK(p.err[0] == 0, "HAKMEM_STATS=0: stderr not empty: %.300s", p.err);
  check_proc_free(&p);
}

/* Lines containing tag must begin with it. Returns how many there are. */
static int tagged_lines(const char *text, const char *tag)
{
  int n = 0;
  size_t len = strlen(tag);
  for (const char *line = text; line && *line;) {
    const char *hit = strstr(line, tag);
    const char *end = strchr(line, '\n');
    if (hit && (!end || hit < end)) {
      CHECK(hit == line, "trace line does not start with %s: %.80s", tag, line);
      n++;
    }
    line = end ? end + 1 : NULL;
  }
  (void)len;
  return n;
}

static void debug_traces(void)
{
  struct check_proc p;
  const char *lru[] = {"HAKMEM_SS_LRU_DEBUG=1", NULL};
  check_run_self("superslabs", lru, &p);
  if (check_proc_ok(&p, "HAKMEM_SS_LRU_DEBUG=1")) {
    CHECK(tagged_lines(p.err, "[LRU_PUSH]") > 0, "HAKMEM_SS_LRU_DEBUG=1: no [LRU_PUSH] line (child: %s)", p.out);
    CHECK(tagged_lines(p.err, "[LRU_POP]") > 0, "HAKMEM_SS_LRU_DEBUG=1: no [LRU_POP] line (child: %s)", p.out);
    CHECK(tagged_lines(p.err, "[SS_FREE]") == 0, "[SS_FREE] lines without HAKMEM_SS_FREE_DEBUG");
  }
  check_proc_free(&p);

  const char *ss[] = {"HAKMEM_SS_FREE_DEBUG=1", NULL};
  check_run_self("superslabs", ss, &p);
  if (check_proc_ok(&p, "HAKMEM_SS_FREE_DEBUG=1")) {
    CHECK(tagged_lines(p.err, "[SS_FREE]") > 0, "HAKMEM_SS_FREE_DEBUG=1: no [SS_FREE] line (child: %s)", p.out);
    CHECK(strstr(p.err, "[LRU_PUSH]") == NULL, "[LRU_PUSH] lines without HAKMEM_SS_LRU_DEBUG");
  }
  check_proc_free(&p);

  check_run_self("superslabs", NULL, &p);
  if (check_proc_ok(&p, "no debug flags")) {
    CHECK(strstr(p.out, "lru_push=0 ") == NULL, "the child pushed nothing to the LRU: %s", p.out);
    CHECK(p.err[0] == 0, "debug flags off but stderr has: %.300s", p.err);
  }
  check_proc_free(&p);
}

int main(int argc, char **argv)
{
  const char *mode = check_child_mode(argc, argv);
  if (mode && strcmp(mode, "work") == 0) return child_work();
  if (mode && strcmp(mode, "superslabs") == 0) return child_superslabs();

  check_timeout(300);
  struct_basics();
  exact_counts();
  bytes_in_use();
  json();
  print_to_fd();
  stats_at_exit();
  debug_traces();
  return check_finish();
}
