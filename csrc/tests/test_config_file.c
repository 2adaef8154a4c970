/* HAKMEM_CONFIG: a flat JSON object of flags read before the environment.
 * Each scenario re-executes this binary with a file and an environment, and
 * the child prints the effective values it sees. */
#include <stdbool.h>
#include <sys/stat.h>
#include "check.h"

static int child_report(void) {
  static const char *const names[] = {"HAKMEM_SS_SIZE", "HAKMEM_SS_LRU_MAX_CACHED", "HAKMEM_SS_LRU_TTL_SEC",
                                      "HAKMEM_USE_HUGEPAGES", "HAKMEM_SS_PREFAULT"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) printf("%s=%s\n", names[i], hak_config_get(names[i]));
  void *p = hak_malloc(100);
  hak_stats_t s;
  hak_stats(&s);
  printf("superslab_bytes=%llu\n", (unsigned long long)s.superslab_bytes);
  hak_free(p);
  return 0;
}

static char dir[] = "/tmp/hakmem-config-XXXXXX";

static const char *write_file(const char *name, const char *text) {
  static char path[4][256];
  static int next;
  char *out = path[next++ % 4];
  snprintf(out, sizeof path[0], "%s/%s", dir, name);
  FILE *f = fopen(out, "w");
  CHECK(f != NULL, "cannot write %s", out);
  if (f) {
    fputs(text, f);
    fclose(f);
  }
  return out;
}

static void run_with(const char *what, const char *file, const char *extra_env, struct check_proc *p) {
  char config[300];
  snprintf(config, sizeof config, "HAKMEM_CONFIG=%s", file);
  const char *env[] = {config, extra_env, NULL};
  check_run_self("report", env, p);
  CHECK(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0, "%s: child failed; stderr: %.300s", what,
        p->err ? p->err : "");
}

static bool has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *at = text; at && (at = strstr(at, line)) != NULL; at += n)
    if ((at == text || at[-1] == '\n') && (at[n] == '\n' || at[n] == 0)) return true;
  return false;
}

int main(int argc, char **argv) {
  const char *mode = check_child_mode(argc, argv);
  if (mode && strcmp(mode, "report") == 0) return child_report();
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  struct check_proc p;

  const char *good = write_file("good.json",
                                "{\n  \"HAKMEM_SS_SIZE\": \"2M\",\n  \"HAKMEM_SS_LRU_MAX_CACHED\": 64,\n"
                                "  \"HAKMEM_USE_HUGEPAGES\": true, \"HAKMEM_SS_PREFAULT\": \"madvise\"\n}\n");
  run_with("good file", good, NULL, &p);
  CHECK(has_line(p.out, "HAKMEM_SS_SIZE=2M") && has_line(p.out, "superslab_bytes=2097152"), "file SS_SIZE not applied:\n%s", p.out);
  CHECK(has_line(p.out, "HAKMEM_SS_LRU_MAX_CACHED=64"), "number value not applied:\n%s", p.out);
  CHECK(has_line(p.out, "HAKMEM_USE_HUGEPAGES=1"), "true not applied:\n%s", p.out);
  CHECK(has_line(p.out, "HAKMEM_SS_PREFAULT=madvise"), "enum not applied:\n%s", p.out);
  CHECK(p.err[0] == 0, "good file printed on stderr: %s", p.err);
  check_proc_free(&p);

  run_with("environment over file", good, "HAKMEM_SS_SIZE=512K", &p);
  CHECK(has_line(p.out, "HAKMEM_SS_SIZE=512K") && has_line(p.out, "superslab_bytes=524288"),
        "the environment must override the file:\n%s", p.out);
  CHECK(has_line(p.out, "HAKMEM_SS_LRU_MAX_CACHED=64"), "other file values must stay:\n%s", p.out);
  check_proc_free(&p);

  const char *mixed = write_file("mixed.json", "{\"HAKMEM_SS_LRU_TTL_SEC\": 999999, \"HAKMEM_NOT_A_FLAG\": 1, "
                                               "\"HAKMEM_SS_LRU_MAX_CACHED\": 7}");
  run_with("bad and unknown entries", mixed, NULL, &p);
  CHECK(has_line(p.out, "HAKMEM_SS_LRU_TTL_SEC=60"), "a bad value must leave the default:\n%s", p.out);
  CHECK(has_line(p.out, "HAKMEM_SS_LRU_MAX_CACHED=7"), "good entries beside bad ones apply:\n%s", p.out);
  CHECK(strstr(p.err, "HAKMEM_SS_LRU_TTL_SEC") && strstr(p.err, "999999") && strstr(p.err, "allowed"),
        "bad value not reported: %s", p.err);
  CHECK(strstr(p.err, "unknown") && strstr(p.err, "HAKMEM_NOT_A_FLAG"), "unknown key not reported: %s", p.err);
  check_proc_free(&p);

  const char *broken = write_file("broken.json", "{\"HAKMEM_SS_SIZE\": \"2M\", \"HAKMEM_SS_LRU_MAX_CACHED\": }");
  run_with("malformed file", broken, NULL, &p);
  CHECK(has_line(p.out, "HAKMEM_SS_SIZE=1M"), "a malformed file must change nothing:\n%s", p.out);
  CHECK(strstr(p.err, "not a flat JSON object") != NULL, "malformed file not reported: %s", p.err);
  check_proc_free(&p);

  char missing[300];
  snprintf(missing, sizeof missing, "%s/missing.json", dir);
  run_with("missing file", missing, NULL, &p);
  CHECK(has_line(p.out, "HAKMEM_SS_SIZE=1M"), "defaults expected without a file:\n%s", p.out);
  CHECK(strstr(p.err, "cannot open") != NULL, "missing file not reported: %s", p.err);
  check_proc_free(&p);

  /* Not a regular file: each is refused with the reason, at once (a FIFO
   * without a writer used to block every program at start). */
  char fifo[300], big_path[300];
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s: %s", fifo, strerror(errno));
  run_with("FIFO", fifo, NULL, &p);
  CHECK(has_line(p.out, "HAKMEM_SS_SIZE=1M"), "defaults expected with a FIFO:\n%s", p.out);
  CHECK(strstr(p.err, "not a regular file") != NULL, "FIFO not reported: %s", p.err);
  check_proc_free(&p);

  run_with("directory", dir, NULL, &p);
  CHECK(has_line(p.out, "HAKMEM_SS_SIZE=1M"), "defaults expected with a directory:\n%s", p.out);
  CHECK(strstr(p.err, "is a directory") != NULL, "directory not reported as one: %s", p.err);
  check_proc_free(&p);

  snprintf(big_path, sizeof big_path, "%s/big.json", dir);
  FILE *big = fopen(big_path, "w");
  CHECK(big != NULL, "cannot write %s", big_path);
  if (big) {
    fputs("{\"HAKMEM_SS_SIZE\": \"2M\"", big);
    for (int i = 0; i < 70000; i++) fputc(' ', big);
    fputs("}\n", big);
    fclose(big);
  }
  run_with("oversized file", big_path, NULL, &p);
  CHECK(has_line(p.out, "HAKMEM_SS_SIZE=1M"), "an oversized file must change nothing:\n%s", p.out);
  CHECK(strstr(p.err, "larger than") != NULL, "oversized file not reported as such: %s", p.err);
  check_proc_free(&p);

  unlink(fifo);
  unlink(big_path);
  unlink(good);
  unlink(mixed);
  unlink(broken);
  rmdir(dir);
  return check_finish();
}
