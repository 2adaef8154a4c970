/* test_config: hak_config_set/get/describe/locked and HAKMEM_* environment
 * parsing.
 *
 * Configuration is process-wide and freezes at the first allocation, so every
 * scenario runs in a fresh process: fork() for the hak_config_set scenarios
 * (this parent never allocates with hakmem), and a re-exec of this binary
 * with a chosen environment for the environment scenarios. */
#include "check.h"

/* Every flag the allocator documents. */
static const char *const all_flags[] = {
    "HAKMEM_SS_SIZE", "HAKMEM_SS_LRU_MAX_CACHED", "HAKMEM_SS_LRU_MAX_MB", "HAKMEM_SS_LRU_TTL_SEC",
    "HAKMEM_SS_PREFAULT", "HAKMEM_USE_HUGEPAGES", "HAKMEM_STATS", "HAKMEM_SS_LRU_DEBUG",
    "HAKMEM_SS_FREE_DEBUG", "HAKMEM_CHECK", NULL};

/* "HAKMEM_SS_SIZE" -> "SS_SIZE" and back. */
static const char *other_form(const char *name, char *buf, size_t n)
{
  if (strncmp(name, "HAKMEM_", 7) == 0) snprintf(buf, n, "%s", name + 7);
  else snprintf(buf, n, "HAKMEM_%s", name);
  return buf;
}

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* Sets name=value, expects HAK_OK, and reads back `canonical` through both
 * name forms. */
static void set_ok(const char *name, const char *value, const char *canonical)
{
  char other[128];
  int rc = hak_config_set(name, value);
  CHECK(rc == HAK_OK, "hak_config_set(%s, \"%s\") = %d, want HAK_OK", name, value, rc);
  const char *got = hak_config_get(name);
  CHECK(streq(got, canonical), "after set(%s, \"%s\"): get = \"%s\", want \"%s\"", name, value,
        got ? got : "(null)", canonical);
  got = hak_config_get(other_form(name, other, sizeof other));
  CHECK(streq(got, canonical), "after set(%s, \"%s\"): get(%s) = \"%s\", want \"%s\"", name, value, other,
        got ? got : "(null)", canonical);
}

/* Expects HAK_E_BAD_VALUE and the previous value left in place. */
static void set_bad(const char *name, const char *value)
{
  char before[128];
  const char *b = hak_config_get(name);
  snprintf(before, sizeof before, "%s", b ? b : "(null)");
  int rc = hak_config_set(name, value);
  CHECK(rc == HAK_E_BAD_VALUE, "hak_config_set(%s, \"%s\") = %d, want HAK_E_BAD_VALUE", name, value, rc);
  const char *after = hak_config_get(name);
  CHECK(streq(after, before), "bad set(%s, \"%s\") changed the value \"%s\" -> \"%s\"", name, value, before,
        after ? after : "(null)");
}

/* ---- forked scenarios ---------------------------------------------------- */

static void good_values(void *arg)
{
  (void)arg;
  set_ok("SS_SIZE", "512K", "512K");
  set_ok("HAKMEM_SS_SIZE", "2M", "2M");
  set_ok("SS_SIZE", "4M", "4M");
  set_ok("HAKMEM_SS_SIZE", "1048576", "1M"); /* bytes are accepted too */
  set_ok("SS_SIZE", "2097152", "2M");
  set_ok("SS_SIZE", "1M", "1M");

  set_ok("SS_LRU_MAX_CACHED", "0", "0");
  set_ok("HAKMEM_SS_LRU_MAX_CACHED", "65536", "65536");
  set_ok("SS_LRU_MAX_CACHED", "100", "100");
  set_ok("HAKMEM_SS_LRU_MAX_MB", "0", "0");
  set_ok("SS_LRU_MAX_MB", "1048576", "1048576");
  set_ok("SS_LRU_MAX_MB", "64", "64");
  set_ok("SS_LRU_TTL_SEC", "0", "0");
  set_ok("HAKMEM_SS_LRU_TTL_SEC", "86400", "86400");
  set_ok("SS_LRU_TTL_SEC", "5", "5");

  set_ok("SS_PREFAULT", "populate", "populate");
  set_ok("HAKMEM_SS_PREFAULT", "madvise", "madvise");
  set_ok("SS_PREFAULT", "off", "off");

  /* Every spelling of a boolean, on every boolean flag. */
  static const char *const bools[] = {"USE_HUGEPAGES", "HAKMEM_STATS", "SS_LRU_DEBUG", "HAKMEM_SS_FREE_DEBUG",
                                      "CHECK", NULL};
  static const char *const yes[] = {"1", "true", "on", "yes"}, *const no[] = {"0", "false", "off", "no"};
  for (int i = 0; bools[i]; i++)
    for (int k = 0; k < 4; k++) {
      set_ok(bools[i], yes[k], "1");
      set_ok(bools[i], no[k], "0");
    }
  /* A path is kept whole up to its limit (4095 bytes), and can be emptied again. */
  static char path[4096];
  path[0] = '/';
  memset(path + 1, 'p', sizeof path - 2);
  path[sizeof path - 1] = 0;
  set_ok("STATS_FILE", path, path);
  set_ok("HAKMEM_STATS_FILE", "", "");
  set_ok("FAULT_MMAP_FAIL_EVERY", "1000000000", "1000000000");
  set_ok("FAULT_MMAP_FAIL_EVERY", "0", "0");
  /* Leave the debug/report flags off so this child stays quiet. */
}

static void bad_values(void *arg)
{
  (void)arg;
  set_ok("SS_SIZE", "2M", "2M");
  set_ok("SS_LRU_MAX_CACHED", "10", "10");
  set_ok("SS_PREFAULT", "madvise", "madvise");
  set_ok("USE_HUGEPAGES", "1", "1");

  static const char *const bad[][2] = {
      {"SS_SIZE", "3M"}, {"SS_SIZE", "abc"}, {"SS_SIZE", ""}, {"SS_SIZE", "0"}, {"SS_SIZE", "8M"},
      {"SS_SIZE", "256K"}, {"SS_SIZE", "1000000"}, {"SS_SIZE", "-1M"}, {"SS_SIZE", "1M5"}, {"SS_SIZE", "2G"},
      {"HAKMEM_SS_LRU_MAX_CACHED", "-1"}, {"HAKMEM_SS_LRU_MAX_CACHED", "70000"},
      {"HAKMEM_SS_LRU_MAX_CACHED", "65537"}, {"SS_LRU_MAX_CACHED", "abc"}, {"SS_LRU_MAX_CACHED", "1.5"},
      {"SS_LRU_MAX_CACHED", ""}, {"SS_LRU_MAX_CACHED", "10x"}, {"SS_LRU_MAX_MB", "1048577"},
      {"SS_LRU_MAX_MB", "-5"}, {"SS_LRU_TTL_SEC", "86401"}, {"SS_LRU_TTL_SEC", "ten"},
      {"SS_PREFAULT", "sometimes"}, {"SS_PREFAULT", ""}, {"HAKMEM_USE_HUGEPAGES", "2"},
      {"USE_HUGEPAGES", "maybe"}, {"CHECK", ""}};
  const size_t nbad = sizeof bad / sizeof bad[0];
  for (size_t i = 0; i < nbad; i++) set_bad(bad[i][0], bad[i][1]);

  /* hak_config_set reports through its result only: the same calls again,
   * with stderr captured (no CHECK inside, its messages would be captured). */
  struct check_capture cap;
  capture_stderr_begin(&cap);
  for (size_t i = 0; i < nbad; i++) (void)hak_config_set(bad[i][0], bad[i][1]);
  const char *printed = capture_stderr_end(&cap);
  CHECK(printed[0] == 0, "hak_config_set printed on stderr: \"%.300s\"", printed);

  CHECK(streq(hak_config_get("SS_SIZE"), "2M"), "SS_SIZE no longer 2M");
  CHECK(streq(hak_config_get("SS_LRU_MAX_CACHED"), "10"), "LRU_MAX_CACHED no longer 10");
  CHECK(streq(hak_config_get("SS_PREFAULT"), "madvise"), "SS_PREFAULT no longer madvise");
  CHECK(streq(hak_config_get("USE_HUGEPAGES"), "1"), "USE_HUGEPAGES no longer 1");
}

static void unknown_names(void *arg)
{
  (void)arg;
  struct check_capture cap;
  capture_stderr_begin(&cap);
  static const char *const unknown[] = {"NOPE", "HAKMEM_NOPE", "", "HAKMEM_", "HAKMEM_SS_SIZEX", "SS_SIZ",
                                        "HAKMEM_HAKMEM_SS_SIZE", NULL};
  int rcs[16], n = 0;
  const char *gets[16];
  for (int i = 0; unknown[i]; i++, n++) {
    rcs[i] = hak_config_set(unknown[i], "1");
    gets[i] = hak_config_get(unknown[i]);
  }
  const char *printed = capture_stderr_end(&cap);
  for (int i = 0; i < n; i++) {
    CHECK(rcs[i] == HAK_E_UNKNOWN_FLAG, "hak_config_set(\"%s\") = %d, want HAK_E_UNKNOWN_FLAG", unknown[i], rcs[i]);
    CHECK(gets[i] == NULL, "hak_config_get(\"%s\") = \"%s\", want NULL", unknown[i], gets[i]);
  }
  CHECK(printed[0] == 0, "unknown names printed on stderr: \"%.300s\"", printed);
}

/* Reading state does not freeze the configuration; the first allocation
 * does, and the value chosen before it is the one in force. */
static void locking(void *arg)
{
  (void)arg;
  CHECK(hak_config_locked() == 0, "locked before any call");
  hak_stats_t s;
  hak_stats(&s);
  (void)hak_stats_json();
  (void)hak_config_describe();
  (void)hak_config_get("SS_SIZE");
  int local;
  (void)hak_owns(&local);
  (void)hak_usable_size(NULL);
  hak_free(NULL);
  CHECK(hak_config_locked() == 0, "reading stats/config/ownership locked the configuration");

  set_ok("SS_SIZE", "512K", "512K");
  set_ok("SS_LRU_MAX_CACHED", "3", "3");
  set_ok("SS_PREFAULT", "off", "off"); /* whatever the caller's environment said */
  void *p = hak_malloc(32);
  CHECK(p != NULL, "hak_malloc(32)");
  CHECK(hak_config_locked() == 1, "hak_config_locked() = %d after an allocation", hak_config_locked());

  static const char *const sets[][2] = {{"SS_SIZE", "2M"}, {"HAKMEM_SS_SIZE", "512K"}, {"SS_LRU_MAX_CACHED", "5"},
                                        {"SS_PREFAULT", "populate"}, {"CHECK", "1"}, {"HAKMEM_STATS", "0"}};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    int rc = hak_config_set(sets[i][0], sets[i][1]);
    CHECK(rc == HAK_E_LOCKED, "hak_config_set(%s, %s) after allocation = %d, want HAK_E_LOCKED", sets[i][0],
          sets[i][1], rc);
  }
  CHECK(streq(hak_config_get("SS_SIZE"), "512K"), "SS_SIZE = %s after locked sets", hak_config_get("SS_SIZE"));
  CHECK(streq(hak_config_get("SS_LRU_MAX_CACHED"), "3"), "LRU_MAX_CACHED changed after lock");
  CHECK(streq(hak_config_get("SS_PREFAULT"), "off"), "SS_PREFAULT changed after lock");
  hak_stats(&s);
  CHECK(s.superslab_bytes == 512 * 1024, "superslab_bytes = %llu, want 524288 (set before the allocation)",
        (unsigned long long)s.superslab_bytes);
  hak_free(p);
}

/* The SuperSlab size set before the first allocation is the one used. */
static void size_takes_effect(void *arg)
{
  const char *value = arg;
  set_ok("SS_SIZE", value, value);
  void *p = hak_malloc(100);
  hak_stats_t s = stats_now();
  uint64_t want = (value[strlen(value) - 1] == 'K' ? 1024ull : 1024ull * 1024) * strtoull(value, NULL, 10);
  CHECK(s.superslab_bytes == want, "SS_SIZE=%s: superslab_bytes = %llu, want %llu", value,
        (unsigned long long)s.superslab_bytes, (unsigned long long)want);
  hak_free(p);
}

/* ---- hak_config_describe ------------------------------------------------- */

/* Copies the text of a scalar (string without quotes, or number/bool) stored
 * under key in obj into buf. Returns 0 when absent. */
static int scalar_of(const char *obj, const char *key, char *buf, size_t n)
{
  const char *v = json_find_key(obj, key);
  if (!v) return 0;
  const char *end;
  if (*v == '"') {
    end = json_string(v);
    if (!end) return 0;
    v++;
    end--;
  } else {
    end = v;
    while (*end && *end != ',' && *end != '}' && *end != ']' && *end != ' ' && *end != '\n') end++;
  }
  snprintf(buf, n, "%.*s", (int)(end - v), v);
  return 1;
}

/* Calls fn on every object of the describe array, each copied out as a
 * NUL-terminated string. Returns the number of objects. */
static int for_each_object(const char *array, void (*fn)(const char *obj, void *ctx), void *ctx)
{
  int count = 0;
  const char *s = json_ws(array);
  if (*s != '[') return 0;
  s = json_ws(s + 1);
  while (*s == '{') {
    const char *end = json_value(s, 0);
    if (!end) break;
    char *obj = malloc((size_t)(end - s) + 1);
    memcpy(obj, s, (size_t)(end - s));
    obj[end - s] = 0;
    fn(obj, ctx);
    free(obj);
    count++;
    s = json_ws(end);
    if (*s == ',') s = json_ws(s + 1);
  }
  return count;
}

/* Each described flag: the fields are there, and "value" agrees with
 * hak_config_get. */
static void check_flag_object(const char *obj, void *ctx)
{
  (void)ctx;
  char name[128] = "", type[32] = "", value[128] = "", buf[256];
  CHECK(scalar_of(obj, "name", name, sizeof name), "describe object without name: %.200s", obj);
  CHECK(scalar_of(obj, "type", type, sizeof type), "%s: no type", name);
  CHECK(streq(type, "size") || streq(type, "int") || streq(type, "bool") || streq(type, "enum") ||
              streq(type, "path"),
        "%s: type \"%s\"", name, type);
  CHECK(scalar_of(obj, "default", buf, sizeof buf), "%s: no default", name);
  CHECK(scalar_of(obj, "description", buf, sizeof buf) && buf[0], "%s: no description", name);
  CHECK(scalar_of(obj, "value", value, sizeof value), "%s: no value", name);
  const char *got = hak_config_get(name);
  CHECK(streq(got, value), "%s: describe value \"%s\" but hak_config_get \"%s\"", name, value, got ? got : "(null)");
  if (streq(type, "int")) {
    CHECK(json_find_key(obj, "min") && json_find_key(obj, "max"), "%s: int flag without min/max", name);
  }
  if (streq(type, "enum")) {
    const char *v = json_find_key(obj, "values");
    CHECK(v && *v == '[', "%s: enum flag without a values array", name);
  }
}

struct expect_flag { const char *name, *type, *deflt, *min, *max; };

static void expect_flag_facts(const char *obj, void *ctx)
{
  const struct expect_flag *e = ctx;
  char name[128] = "", buf[256];
  scalar_of(obj, "name", name, sizeof name);
  for (; e->name; e++) {
    if (!streq(name, e->name)) continue;
    CHECK(scalar_of(obj, "type", buf, sizeof buf) && streq(buf, e->type), "%s: type %s, want %s", name, buf, e->type);
    CHECK(scalar_of(obj, "default", buf, sizeof buf) && streq(buf, e->deflt), "%s: default %s, want %s", name, buf,
          e->deflt);
    if (e->min) CHECK(scalar_of(obj, "min", buf, sizeof buf) && streq(buf, e->min), "%s: min %s, want %s", name, buf, e->min);
    if (e->max) CHECK(scalar_of(obj, "max", buf, sizeof buf) && streq(buf, e->max), "%s: max %s, want %s", name, buf, e->max);
  }
}

static void describe(void *arg)
{
  (void)arg;
  set_ok("SS_SIZE", "2M", "2M");
  set_ok("SS_PREFAULT", "populate", "populate");
  const char *d = hak_config_describe();
  CHECK(d != NULL, "hak_config_describe() = NULL");
  if (!d) return;
  CHECK(*json_ws(d) == '[', "describe does not start with '[': %.40s", d);
  CHECK(json_valid(d), "describe is not valid JSON: %.300s", d);
  for (int i = 0; all_flags[i]; i++) {
    char quoted[160];
    snprintf(quoted, sizeof quoted, "\"%s\"", all_flags[i]);
    CHECK(strstr(d, quoted) != NULL, "describe lacks %s", all_flags[i]);
  }
  int n = for_each_object(d, check_flag_object, NULL);
  CHECK(n >= 10, "describe lists %d flags, want at least 10", n);
  static const struct expect_flag facts[] = {
      {"HAKMEM_SS_SIZE", "size", "1M", NULL, NULL},
      {"HAKMEM_SS_LRU_MAX_CACHED", "int", "256", "0", "65536"},
      {"HAKMEM_SS_LRU_MAX_MB", "int", "512", "0", "1048576"},
      {"HAKMEM_SS_LRU_TTL_SEC", "int", "60", "0", "86400"},
      {"HAKMEM_SS_PREFAULT", "enum", "off", NULL, NULL},
      {"HAKMEM_SS_PREFAULT_AFTER_MB", "int", "64", "0", "1048576"},
      {"HAKMEM_USE_HUGEPAGES", "bool", "0", NULL, NULL},
      {"HAKMEM_CHECK", "bool", "0", NULL, NULL},
      {NULL, NULL, NULL, NULL, NULL}};
  for_each_object(d, expect_flag_facts, (void *)facts);
  /* The enum lists its values. */
  const char *pf = strstr(d, "\"HAKMEM_SS_PREFAULT\"");
  const char *vals = pf ? json_find_key(pf, "values") : NULL;
  CHECK(vals && strstr(vals, "\"populate\"") && strstr(vals, "\"madvise\"") && strstr(vals, "\"off\""),
        "SS_PREFAULT values missing");
}

static void misc_api(void *arg)
{
  (void)arg;
  int codes[] = {HAK_OK, HAK_E_UNKNOWN_FLAG, HAK_E_BAD_VALUE, HAK_E_LOCKED, HAK_E_FOREIGN,
                 HAK_E_DOUBLE_FREE, HAK_E_NOMEM, HAK_E_BAD_SIZE};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *m = hak_strerror(codes[i]);
    CHECK(m && m[0], "hak_strerror(%d) empty", codes[i]);
    for (size_t j = 0; j < i; j++)
      CHECK(!streq(m, hak_strerror(codes[j])), "hak_strerror(%d) == hak_strerror(%d)", codes[i], codes[j]);
  }
  CHECK(hak_strerror(12345) != NULL, "hak_strerror(unknown code) = NULL");
  unsigned a, b, c;
  char tail;
  const char *v = hak_version();
  CHECK(v && sscanf(v, "%u.%u.%u%c", &a, &b, &c, &tail) == 3, "hak_version() = \"%s\"", v ? v : "(null)");
}

/* ---- environment (re-executed child) -------------------------------------- */

/* Child mode "report": allocate, then print every flag's effective value and
 * the SuperSlab size in force on stdout. */
static int child_report(void)
{
  void *p = hak_malloc(64);
  if (!p) return 2;
  for (int i = 0; all_flags[i]; i++) {
    const char *v = hak_config_get(all_flags[i]);
    printf("%s=%s\n", all_flags[i], v ? v : "(null)");
  }
  hak_stats_t s = stats_now();
  printf("superslab_bytes=%llu\nlocked=%d\n", (unsigned long long)s.superslab_bytes, hak_config_locked());
  hak_free(p);
  return 0;
}

/* Child mode "override": environment sets SS_SIZE=2M, hak_config_set wins. */
static int child_override(void)
{
  CHECK(streq(hak_config_get("SS_SIZE"), "2M"), "env SS_SIZE=2M not seen before allocation: %s",
        hak_config_get("SS_SIZE"));
  set_ok("SS_SIZE", "4M", "4M");
  void *p = hak_malloc(64);
  hak_stats_t s = stats_now();
  CHECK(s.superslab_bytes == 4u << 20, "superslab_bytes %llu, want 4M", (unsigned long long)s.superslab_bytes);
  hak_free(p);
  return check_finish();
}

/* Value of NAME in the child's report, or "" when absent. */
static const char *reported(const struct check_proc *p, const char *name)
{
  static char buf[256];
  char key[160];
  snprintf(key, sizeof key, "%s=", name);
  const char *at = p->out;
  size_t n = strlen(key);
  buf[0] = 0;
  while (at && *at) {
    if (strncmp(at, key, n) == 0) {
      const char *end = strchr(at, '\n');
      size_t len = end ? (size_t)(end - at) - n : strlen(at + n);
      snprintf(buf, sizeof buf, "%.*s", (int)len, at + n);
      break;
    }
    at = strchr(at, '\n');
    if (at) at++;
  }
  return buf;
}

static void expect_reported(const struct check_proc *p, const char *what, const char *name, const char *want)
{
  const char *got = reported(p, name);
  CHECK(streq(got, want), "%s: %s = \"%s\", want \"%s\"", what, name, got, want);
}

/* One warning line with name, value and "allowed", and no second one. */
static void expect_bad_line(const struct check_proc *p, const char *what, const char *name, const char *value)
{
  const char *needles[] = {name, value, "allowed", NULL};
  int n = count_lines_with(p->err, needles);
  CHECK(n == 1, "%s: %d stderr lines name %s, %s and \"allowed\", want 1; stderr:\n%.800s", what, n, name, value,
        p->err);
  const char *just_name[] = {name, NULL};
  CHECK(count_lines_with(p->err, just_name) == 1, "%s: %s reported on %d lines", what, name,
        count_lines_with(p->err, just_name));
}

static void env_defaults(void)
{
  struct check_proc p;
  check_run_self("report", NULL, &p);
  const char *what = "no HAKMEM_* variables";
  if (check_proc_ok(&p, what)) {
    CHECK(p.err[0] == 0, "%s: stderr not empty: %.300s", what, p.err);
    expect_reported(&p, what, "HAKMEM_SS_SIZE", "1M");
    expect_reported(&p, what, "HAKMEM_SS_LRU_MAX_CACHED", "256");
    expect_reported(&p, what, "HAKMEM_SS_LRU_MAX_MB", "512");
    expect_reported(&p, what, "HAKMEM_SS_LRU_TTL_SEC", "60");
    expect_reported(&p, what, "HAKMEM_SS_PREFAULT", "off");
    expect_reported(&p, what, "HAKMEM_USE_HUGEPAGES", "0");
    expect_reported(&p, what, "HAKMEM_STATS", "0");
    expect_reported(&p, what, "HAKMEM_CHECK", "0");
    expect_reported(&p, what, "superslab_bytes", "1048576");
    expect_reported(&p, what, "locked", "1");
  }
  check_proc_free(&p);
}

static void env_bad_and_unknown(void)
{
  const char *env[] = {"HAKMEM_SS_SIZE=3M", "HAKMEM_BOGUS_FLAG=1", NULL};
  struct check_proc p;
  check_run_self("report", env, &p);
  const char *what = "HAKMEM_SS_SIZE=3M HAKMEM_BOGUS_FLAG=1";
  if (check_proc_ok(&p, what)) {
    expect_bad_line(&p, what, "HAKMEM_SS_SIZE", "3M");
    const char *unknown[] = {"unknown", "HAKMEM_BOGUS_FLAG", NULL};
    CHECK(count_lines_with(p.err, unknown) == 1, "%s: no single 'unknown ... HAKMEM_BOGUS_FLAG' line; stderr:\n%.800s",
          what, p.err);
    expect_reported(&p, what, "HAKMEM_SS_SIZE", "1M"); /* the default is used */
    expect_reported(&p, what, "superslab_bytes", "1048576");
  }
  check_proc_free(&p);
}

static void env_bad_each_type(void)
{
  const char *env[] = {"HAKMEM_SS_SIZE=7Q", "HAKMEM_SS_LRU_MAX_CACHED=70000", "HAKMEM_SS_LRU_MAX_MB=-1",
                       "HAKMEM_SS_LRU_TTL_SEC=abc", "HAKMEM_SS_PREFAULT=sometimes", "HAKMEM_USE_HUGEPAGES=maybe",
                       NULL};
  struct check_proc p;
  check_run_self("report", env, &p);
  const char *what = "six bad values";
  if (check_proc_ok(&p, what)) {
    expect_bad_line(&p, what, "HAKMEM_SS_SIZE", "7Q");
    expect_bad_line(&p, what, "HAKMEM_SS_LRU_MAX_CACHED", "70000");
    expect_bad_line(&p, what, "HAKMEM_SS_LRU_MAX_MB", "-1");
    expect_bad_line(&p, what, "HAKMEM_SS_LRU_TTL_SEC", "abc");
    expect_bad_line(&p, what, "HAKMEM_SS_PREFAULT", "sometimes");
    expect_bad_line(&p, what, "HAKMEM_USE_HUGEPAGES", "maybe");
    expect_reported(&p, what, "HAKMEM_SS_SIZE", "1M");
    expect_reported(&p, what, "HAKMEM_SS_LRU_MAX_CACHED", "256");
    expect_reported(&p, what, "HAKMEM_SS_LRU_MAX_MB", "512");
    expect_reported(&p, what, "HAKMEM_SS_LRU_TTL_SEC", "60");
    expect_reported(&p, what, "HAKMEM_SS_PREFAULT", "off");
    expect_reported(&p, what, "HAKMEM_USE_HUGEPAGES", "0");
  }
  check_proc_free(&p);
}

static void env_good(void)
{
  const char *env[] = {"HAKMEM_SS_SIZE=2M", "HAKMEM_SS_LRU_MAX_CACHED=7", "HAKMEM_SS_LRU_MAX_MB=100",
                       "HAKMEM_SS_LRU_TTL_SEC=5", "HAKMEM_SS_PREFAULT=populate", "HAKMEM_USE_HUGEPAGES=yes",
                       "HAKMEM_CHECK=on", "HAKMEM_STATS=off", NULL};
  struct check_proc p;
  check_run_self("report", env, &p);
  const char *what = "good environment values";
  if (check_proc_ok(&p, what)) {
    CHECK(p.err[0] == 0, "%s: stderr not empty: %.300s", what, p.err);
    expect_reported(&p, what, "HAKMEM_SS_SIZE", "2M");
    expect_reported(&p, what, "HAKMEM_SS_LRU_MAX_CACHED", "7");
    expect_reported(&p, what, "HAKMEM_SS_LRU_MAX_MB", "100");
    expect_reported(&p, what, "HAKMEM_SS_LRU_TTL_SEC", "5");
    expect_reported(&p, what, "HAKMEM_SS_PREFAULT", "populate");
    expect_reported(&p, what, "HAKMEM_USE_HUGEPAGES", "1");
    expect_reported(&p, what, "HAKMEM_CHECK", "1");
    expect_reported(&p, what, "HAKMEM_STATS", "0");
    expect_reported(&p, what, "superslab_bytes", "2097152");
  }
  check_proc_free(&p);

  const char *env2[] = {"HAKMEM_SS_SIZE=524288", NULL};
  check_run_self("report", env2, &p);
  if (check_proc_ok(&p, "HAKMEM_SS_SIZE=524288")) {
    expect_reported(&p, "HAKMEM_SS_SIZE=524288", "HAKMEM_SS_SIZE", "512K");
    expect_reported(&p, "HAKMEM_SS_SIZE=524288", "superslab_bytes", "524288");
  }
  check_proc_free(&p);

  const char *env3[] = {"HAKMEM_SS_SIZE=2M", NULL};
  check_run_self("override", env3, &p);
  check_proc_ok(&p, "environment then hak_config_set");
  check_proc_free(&p);
}

/* An old flag name sets the flag it names now, with one warning line the
 * first time (HAKMEM_ACE_*, HAKMEM_SHARED_POOL_LOCK_STATS). */
static void old_names(void *arg) {
  (void)arg;
  struct check_capture cap;
  capture_stderr_begin(&cap);
  int rc1 = hak_config_set("HAKMEM_ACE_MAX_BLOCK", "64K");
  int rc2 = hak_config_set("ACE_MAX_BLOCK", "128K");
  int rc3 = hak_config_set("SHARED_POOL_LOCK_STATS", "1");
  const char *printed = capture_stderr_end(&cap);
  CHECK(rc1 == HAK_OK && rc2 == HAK_OK && rc3 == HAK_OK, "old names refused: %d %d %d", rc1, rc2, rc3);
  CHECK(streq(hak_config_get("LARGE_MAX_BLOCK"), "128K"), "LARGE_MAX_BLOCK is %s", hak_config_get("LARGE_MAX_BLOCK"));
  CHECK(streq(hak_config_get("HAKMEM_LOCK_STATS"), "1"), "LOCK_STATS not set through its old name");
  CHECK(streq(printed, "hakmem: warning: HAKMEM_ACE_MAX_BLOCK is the old name of HAKMEM_LARGE_MAX_BLOCK; use the new name\n"
                       "hakmem: warning: HAKMEM_SHARED_POOL_LOCK_STATS is the old name of HAKMEM_LOCK_STATS; use the new name\n"),
        "warnings: \"%.400s\"", printed);
}

int main(int argc, char **argv)
{
  const char *mode = check_child_mode(argc, argv);
  if (mode && strcmp(mode, "report") == 0) return child_report();
  if (mode && strcmp(mode, "override") == 0) return child_override();

  check_timeout(300);
  check_in_child("good values", good_values, NULL);
  check_in_child("bad values", bad_values, NULL);
  check_in_child("unknown names", unknown_names, NULL);
  check_in_child("locking", locking, NULL);
  check_in_child("old names", old_names, NULL);
  static char *sizes[] = {"512K", "1M", "2M", "4M"};
  for (int i = 0; i < 4; i++) check_in_child(sizes[i], size_takes_effect, sizes[i]);
  check_in_child("describe", describe, NULL);
  check_in_child("strerror/version", misc_api, NULL);
  env_defaults();
  env_bad_and_unknown();
  env_bad_each_type();
  env_good();
  return check_finish();
}
