/* check.h — the tiny harness shared by the C unit tests in csrc/tests.
 *
 *   CHECK(cond, fmt, ...)   counts a pass, or prints file:line, the condition
 *                           and the message, and counts a failure.
 *   check_finish()          prints "N passed, M failed"; returns the exit code.
 *   check_in_child(...)     runs a function in a fork()ed child (hakmem's
 *                           configuration is process-wide and locks at the
 *                           first allocation, so scenarios need fresh
 *                           processes); the child's counts are added to ours.
 *   check_run_self(...)     re-executes this test binary (/proc/self/exe
 *                           --child MODE) with extra environment variables and
 *                           captures its stdout and stderr.
 *   fill / verify helpers   a byte pattern derived from address and size.
 *   json_valid()            a strict little JSON syntax checker.
 *
 * The harness itself never allocates with hakmem (it uses libc), so a parent
 * process can fork fresh children without locking its own configuration.
 */
#ifndef HAKMEM_TEST_CHECK_H
#define HAKMEM_TEST_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem.h"

extern char **environ;

#define CHECK_UNUSED __attribute__((unused))
#define CHECK_MAX_PRINTED 40 /* failures printed before going quiet */

static long check_passes, check_failures;
static const char *check_who = ""; /* prefix for messages from a child */

static CHECK_UNUSED __attribute__((format(printf, 4, 5))) void
check_fail_at(const char *file, int line, const char *expr, const char *fmt, ...)
{
  check_failures++;
  if (check_failures > CHECK_MAX_PRINTED) {
    if (check_failures == CHECK_MAX_PRINTED + 1)
      fprintf(stderr, "%s%s: further failures not printed\n", check_who, file);
    return;
  }
  fprintf(stderr, "%s%s:%d: FAILED: %s: ", check_who, file, line, expr);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
}

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (__builtin_expect(!!(cond), 1))                                       \
      check_passes++;                                                        \
    else                                                                     \
      check_fail_at(__FILE__, __LINE__, #cond, __VA_ARGS__);                 \
  } while (0)

/* A sanitizer's own memory counts in RSS, so under one RSS says nothing about
 * hakmem: RSS checks are skipped there and kept in the plain build (make
 * check). ThreadSanitizer keeps a shadow of every address written and state
 * per thread (10,000 threads: +68 MB under TSan, within the 32 MiB bound
 * without it). AddressSanitizer reads the shadow of every range that memset
 * or memcpy touch, and a kernel that backs a read of untouched anonymous
 * memory with a page of its own rather than the shared zero page counts those
 * reads: reading 100 MiB of fresh memory took 101 MiB of RSS on Linux 6.18
 * (fc), and a 256 MiB block memset under ASan left 32 MiB (an eighth). */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#else
#define UNDER_TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif
#define RSS_CHECK(cond, ...) CHECK(UNDER_TSAN || UNDER_ASAN || (cond), __VA_ARGS__)

/* Prints the summary line; use as `return check_finish();` in main. */
static CHECK_UNUSED int check_finish(void)
{
  fflush(stderr);
  printf("%ld passed, %ld failed\n", check_passes, check_failures);
  fflush(stdout);
  return check_failures != 0;
}

/* Time limits are multiplied by $CHECK_TIMEOUT_SCALE (an integer, default 1),
 * for slow runs such as ThreadSanitizer builds. */
static CHECK_UNUSED unsigned check_scaled(unsigned seconds)
{
  const char *e = getenv("CHECK_TIMEOUT_SCALE");
  long k = e ? strtol(e, NULL, 10) : 1;
  return seconds * (unsigned)(k >= 1 && k <= 1000 ? k : 1);
}

/* A hung test is a failed test: SIGALRM kills the process after `seconds`. */
static CHECK_UNUSED void check_timeout(unsigned seconds) { alarm(check_scaled(seconds)); }

static CHECK_UNUSED void check_describe_status(int st, char *buf, size_t n)
{
  if (WIFEXITED(st))
    snprintf(buf, n, "exit %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
  else
    snprintf(buf, n, "status 0x%x", st);
}

/* ---- forked scenarios ---------------------------------------------------- */

/* Runs fn(arg) in a fork()ed child. The child's CHECK counts come back
 * through a pipe and are added here; a crash of the child is a failure.
 * Returns 1 when the child exited cleanly with no failure. */
static CHECK_UNUSED int check_in_child(const char *name, void (*fn)(void *), void *arg)
{
  int fds[2];
  if (pipe(fds) != 0) {
    CHECK(0, "pipe: %s", strerror(errno));
    return 0;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    CHECK(0, "fork: %s", strerror(errno));
    return 0;
  }
  if (pid == 0) {
    static char who[128];
    close(fds[0]);
    snprintf(who, sizeof who, "[child %s] ", name);
    check_who = who;
    check_passes = check_failures = 0;
    alarm(check_scaled(120));
    fn(arg);
    long counts[2] = {check_passes, check_failures};
    if (write(fds[1], counts, sizeof counts) != (ssize_t)sizeof counts) _exit(99);
    fflush(stdout);
    fflush(stderr);
    _exit(check_failures ? 1 : 0); /* _exit: no atexit report, no stdio flush twice */
  }
  close(fds[1]);
  long counts[2] = {0, 0};
  ssize_t got = 0;
  while (got < (ssize_t)sizeof counts) {
    ssize_t r = read(fds[0], (char *)counts + got, sizeof counts - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += r;
  }
  close(fds[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  char how[96];
  check_describe_status(st, how, sizeof how);
  if (got == (ssize_t)sizeof counts) {
    check_passes += counts[0];
    check_failures += counts[1];
  }
  /* exit 1 with counts: its failures were already printed and counted. */
  int finished = got == (ssize_t)sizeof counts && WIFEXITED(st) &&
                 (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 1);
  CHECK(finished, "child '%s' did not finish: %s", name, how);
  return finished && WEXITSTATUS(st) == 0;
}

/* ---- re-executing this binary -------------------------------------------- */

struct check_proc {
  int status;   /* waitpid status */
  char *out;    /* captured stdout (NUL-terminated, libc malloc) */
  char *err;    /* captured stderr */
  size_t out_len, err_len;
};

/* argv[1] == "--child" marks a re-executed child; argv[2] names its mode. */
static CHECK_UNUSED const char *check_child_mode(int argc, char **argv)
{
  return (argc >= 3 && strcmp(argv[1], "--child") == 0) ? argv[2] : NULL;
}

static CHECK_UNUSED void check_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
  if (*len + n + 1 > *cap) {
    while (*len + n + 1 > *cap) *cap = *cap ? *cap * 2 : 4096;
    *buf = realloc(*buf, *cap);
    if (!*buf) abort();
  }
  memcpy(*buf + *len, p, n);
  *len += n;
  (*buf)[*len] = 0;
}

/* Runs "/proc/self/exe --child MODE" with the current environment minus every
 * HAKMEM_* variable (so the scenario is the same whatever the caller set),
 * plus env_add (a NULL-terminated list of "NAME=value"). */
static CHECK_UNUSED void check_run_self(const char *mode, const char *const *env_add, struct check_proc *p)
{
  memset(p, 0, sizeof *p);
  size_t n_env = 0, n_add = 0;
  while (environ[n_env]) n_env++;
  while (env_add && env_add[n_add]) n_add++;
  char **envp = calloc(n_env + n_add + 1, sizeof *envp);
  size_t k = 0;
  for (size_t i = 0; i < n_env; i++)
    if (strncmp(environ[i], "HAKMEM_", 7) != 0) envp[k++] = environ[i];
  for (size_t i = 0; i < n_add; i++) envp[k++] = (char *)env_add[i];
  envp[k] = NULL;

  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) {
    CHECK(0, "readlink /proc/self/exe: %s", strerror(errno));
    free(envp);
    p->status = -1;
    return;
  }
  exe[len] = 0;

  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) abort();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(out[1]);
    close(err[0]);
    close(err[1]);
    char *argv[] = {exe, "--child", (char *)mode, NULL};
    alarm(check_scaled(120));
    execve(exe, argv, envp);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  size_t out_cap = 0, err_cap = 0;
  check_append(&p->out, &p->out_len, &out_cap, "", 0);
  check_append(&p->err, &p->err_len, &err_cap, "", 0);
  struct pollfd pf[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t r = read(pf[i].fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        close(pf[i].fd);
        pf[i].fd = -1;
        open_fds--;
      } else if (i == 0) {
        check_append(&p->out, &p->out_len, &out_cap, buf, (size_t)r);
      } else {
        check_append(&p->err, &p->err_len, &err_cap, buf, (size_t)r);
      }
    }
  }
  while (waitpid(pid, &p->status, 0) < 0 && errno == EINTR) {}
  free(envp);
}

/* Checks that the re-executed child exited with status 0; says how it ended and what it wrote to stderr otherwise. */
static CHECK_UNUSED int check_proc_ok(const struct check_proc *p, const char *what)
{
  char how[96];
  check_describe_status(p->status, how, sizeof how);
  int ok = WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
  CHECK(ok, "%s: child %s; stderr: %.500s", what, how, p->err);
  return ok;
}

static CHECK_UNUSED void check_proc_free(struct check_proc *p)
{
  free(p->out);
  free(p->err);
  p->out = p->err = NULL;
}

/* Number of lines of text that contain every one of the given substrings
 * (NULL-terminated list). */
static CHECK_UNUSED int count_lines_with(const char *text, const char *const *needles)
{
  int count = 0;
  const char *line = text;
  while (line && *line) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    int all = 1;
    for (const char *const *s = needles; *s && all; s++) {
      size_t m = strlen(*s);
      int found = 0;
      for (size_t i = 0; i + m <= n && !found; i++)
        if (memcmp(line + i, *s, m) == 0) found = 1;
      all = found;
    }
    count += all;
    line = end ? end + 1 : NULL;
  }
  return count;
}

/* ---- stderr capture inside one process ------------------------------------ */
/* For "prints nothing" checks: fd 2 goes to a pipe between begin and end.
 * Only for small amounts of text (the pipe must not fill up). */
struct check_capture { int saved_fd, read_fd; };

static CHECK_UNUSED void capture_stderr_begin(struct check_capture *c)
{
  int fds[2];
  fflush(stderr);
  if (pipe(fds) != 0) abort();
  c->saved_fd = dup(2);
  c->read_fd = fds[0];
  dup2(fds[1], 2);
  close(fds[1]);
}

/* Returns what was written to stderr (static buffer, truncated at 8 KiB). */
static CHECK_UNUSED const char *capture_stderr_end(struct check_capture *c)
{
  static char text[8192];
  fflush(stderr);
  dup2(c->saved_fd, 2);
  close(c->saved_fd);
  fcntl(c->read_fd, F_SETFL, O_NONBLOCK);
  size_t n = 0;
  ssize_t r;
  while (n < sizeof text - 1 && (r = read(c->read_fd, text + n, sizeof text - 1 - n)) > 0) n += (size_t)r;
  text[n] = 0;
  close(c->read_fd);
  return text;
}

/* ---- stats --------------------------------------------------------------- */

static CHECK_UNUSED hak_stats_t stats_now(void)
{
  hak_stats_t s;
  memset(&s, 0, sizeof s);
  hak_stats(&s);
  return s;
}

/* whether p is one of the n pointers at ptrs */
static CHECK_UNUSED bool is_one_of(const void *p, void *const *ptrs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (ptrs[i] == p) return true;
  return false;
}

/* ---- content patterns ---------------------------------------------------- */
/* Every block gets bytes derived from its own address and size, so a block
 * that overlaps another, or was handed out twice, or was moved without its
 * contents, shows up as a mismatch. */

static inline uint64_t pattern_seed(const void *p, size_t n)
{
  uint64_t x = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull ^ (uint64_t)n * 0xC2B2AE3D27D4EB4Full;
  return x ^ (x >> 29);
}

static inline uint8_t pattern_byte(uint64_t seed, size_t i)
{
  uint64_t x = seed + i * 0x9E3779B97F4A7C15ull;
  return (uint8_t)((x >> 32) ^ (x >> 56) ^ i);
}

/* Fills n bytes at p with the pattern for (key, n). key is usually p itself;
 * realloc tests pass the original pointer so that moved data still matches. */
static CHECK_UNUSED void fill_key(void *p, size_t n, const void *key)
{
  uint64_t s = pattern_seed(key, n);
  uint8_t *b = p;
  for (size_t i = 0; i < n; i++) b[i] = pattern_byte(s, i);
}

/* Returns the offset of the first wrong byte among the first `check` bytes
 * of a region filled with fill_key(p, n, key), or (size_t)-1 when all match. */
static CHECK_UNUSED size_t verify_key(const void *p, size_t n, size_t check, const void *key)
{
  uint64_t s = pattern_seed(key, n);
  const uint8_t *b = p;
  for (size_t i = 0; i < check; i++)
    if (b[i] != pattern_byte(s, i)) return i;
  return (size_t)-1;
}

static CHECK_UNUSED void fill(void *p, size_t n) { fill_key(p, n, p); }
static CHECK_UNUSED int verify(const void *p, size_t n) { return verify_key(p, n, n, p) == (size_t)-1; }

/* A small deterministic PRNG (xorshift64*), so failures reproduce. */
static inline uint64_t rng_next(uint64_t *s)
{
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

static CHECK_UNUSED int is_aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* ---- minimal JSON syntax check ------------------------------------------- */
/* Strict enough to catch trailing commas, unquoted keys, bad escapes and
 * unbalanced brackets in hak_stats_json / hak_config_describe. */

static CHECK_UNUSED const char *json_ws(const char *s)
{
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  return s;
}

static const char *json_value(const char *s, int depth);

static CHECK_UNUSED const char *json_string(const char *s)
{
  if (*s != '"') return NULL;
  s++;
  while (*s && *s != '"') {
    if ((unsigned char)*s < 0x20) return NULL;
    if (*s == '\\') {
      s++;
      if (*s == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i]) return NULL;
        s += 4;
      } else if (!*s || !strchr("\"\\/bfnrt", *s)) {
        return NULL;
      }
    }
    s++;
  }
  return *s == '"' ? s + 1 : NULL;
}

static CHECK_UNUSED const char *json_number(const char *s)
{
  const char *start = s;
  if (*s == '-') s++;
  if (*s == '0') s++;
  else if (*s >= '1' && *s <= '9') while (*s >= '0' && *s <= '9') s++;
  else return NULL;
  if (*s == '.') {
    s++;
    if (!(*s >= '0' && *s <= '9')) return NULL;
    while (*s >= '0' && *s <= '9') s++;
  }
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '+' || *s == '-') s++;
    if (!(*s >= '0' && *s <= '9')) return NULL;
    while (*s >= '0' && *s <= '9') s++;
  }
  return s > start ? s : NULL;
}

static CHECK_UNUSED const char *json_value(const char *s, int depth)
{
  if (depth > 64) return NULL;
  s = json_ws(s);
  if (*s == '{' || *s == '[') {
    char close = *s == '{' ? '}' : ']';
    int object = *s == '{';
    s = json_ws(s + 1);
    if (*s == close) return s + 1;
    for (;;) {
      if (object) {
        s = json_string(s);
        if (!s) return NULL;
        s = json_ws(s);
        if (*s != ':') return NULL;
        s++;
      }
      s = json_value(s, depth + 1);
      if (!s) return NULL;
      s = json_ws(s);
      if (*s == ',') { s = json_ws(s + 1); continue; }
      if (*s == close) return s + 1;
      return NULL;
    }
  }
  if (*s == '"') return json_string(s);
  if (strncmp(s, "true", 4) == 0) return s + 4;
  if (strncmp(s, "false", 5) == 0) return s + 5;
  if (strncmp(s, "null", 4) == 0) return s + 4;
  return json_number(s);
}

/* 1 when text is exactly one JSON value (surrounding whitespace allowed). */
static CHECK_UNUSED int json_valid(const char *text)
{
  if (!text) return 0;
  const char *end = json_value(text, 0);
  return end && *json_ws(end) == 0;
}

/* Finds "key": in text and returns a pointer to the value (after blanks), or
 * NULL. Keys are matched with their quotes, so "allocs" does not match
 * "small_allocs". */
static CHECK_UNUSED const char *json_find_key(const char *text, const char *key)
{
  size_t n = strlen(key);
  for (const char *s = text; (s = strchr(s, '"')) != NULL; s++) {
    if (strncmp(s + 1, key, n) == 0 && s[n + 1] == '"') {
      const char *v = json_ws(s + n + 2);
      if (*v == ':') return json_ws(v + 1);
    }
  }
  return NULL;
}

/* Reads the unsigned integer stored under key; 0 when absent or not one. */
static CHECK_UNUSED int json_u64(const char *text, const char *key, uint64_t *out)
{
  const char *v = json_find_key(text, key);
  if (!v || !(*v >= '0' && *v <= '9')) return 0;
  *out = strtoull(v, NULL, 10);
  return 1;
}

#endif /* HAKMEM_TEST_CHECK_H */
