/* The flag table: the single source of truth for every HAKMEM_* flag.
 * Parsing of the environment and of hak_config_set, hak_config_get,
 * hak_config_describe (JSON for the TypeScript side) and the README's list are
 * all derived from it. Flags are read once; the first allocation freezes them. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

typedef enum { HK_FT_BOOL, HK_FT_INT, HK_FT_SIZE, HK_FT_ENUM, HK_FT_PATH } hk_ftype;

typedef struct hk_flag {
  const char *name;
  hk_ftype type;
  int64_t def, min, max;
  const char *const *names;   /* HK_FT_ENUM: value i is names[i] */
  const int64_t *choices;     /* HK_FT_SIZE: the allowed sizes, when a set */
  const char *desc;
} hk_flag;

enum {
  F_SS_SIZE, F_LRU_MAX_CACHED, F_LRU_MAX_MB, F_LRU_TTL_SEC, F_PREFAULT, F_PREFAULT_AFTER_MB, F_HUGEPAGES,
  F_LARGE_CACHE_MAX_RUNS, F_LARGE_CACHE_MAX_MB, F_LARGE_MAX_BLOCK, F_LARGE_TRACE, F_STATS, F_STATS_FILE, F_LRU_DEBUG, F_FREE_DEBUG,
  F_LOCK_STATS, F_CHECK, F_SECURE, F_REMOTE_BATCH, F_THREAD_CACHE, F_FAULT_MMAP, F_CONFIG, HK_NFLAGS
};

#define KiB ((int64_t)1 << 10)
#define MiB ((int64_t)1 << 20)
static const int64_t ss_sizes[] = {512 * KiB, 1 * MiB, 2 * MiB, 4 * MiB, 0};
static const char *const prefault_names[] = {"off", "populate", "madvise", NULL};
/* auto, on, off: HAKMEM_REMOTE_BATCH and HAKMEM_THREAD_CACHE (auto: the library's policy) */
enum { MODE_AUTO, MODE_ON, MODE_OFF };
static const char *const mode_names[] = {"auto", "on", "off", NULL};

hk_globals g_hk = {
  /* Valid before initialisation so that no address maps into a SuperSlab. */
  .ss_mask = ~(uintptr_t)((1u << 20) - 1),
  .ss_size = 1u << 20,
};

static const hk_flag flags[HK_NFLAGS] = {
  [F_SS_SIZE] = {"HAKMEM_SS_SIZE", HK_FT_SIZE, 1 * MiB, 512 * KiB, 4 * MiB, NULL, ss_sizes,
                 "SuperSlab size; SuperSlabs are aligned to it and split into 64 KiB slabs"},
  [F_LRU_MAX_CACHED] = {"HAKMEM_SS_LRU_MAX_CACHED", HK_FT_INT, 256, 0, 65536, NULL, NULL,
                        "Most empty SuperSlabs kept in the LRU cache (0: release at once)"},
  [F_LRU_MAX_MB] = {"HAKMEM_SS_LRU_MAX_MB", HK_FT_INT, 512, 0, 1048576, NULL, NULL,
                    "Most memory (MiB) held by the LRU cache of empty SuperSlabs"},
  [F_LRU_TTL_SEC] = {"HAKMEM_SS_LRU_TTL_SEC", HK_FT_INT, 60, 0, 86400, NULL, NULL,
                     "Seconds an empty SuperSlab or a freed large page may stay cached (committed) before it is released"},
  [F_PREFAULT] = {"HAKMEM_SS_PREFAULT", HK_FT_ENUM, HK_PREFAULT_OFF, 0, 2, prefault_names, NULL,
                  "Prefault policy: off (fault on first touch), populate (whole SuperSlab "
                  "when acquired, MADV_POPULATE_WRITE), madvise (each slab when first formatted)"},
  [F_PREFAULT_AFTER_MB] = {"HAKMEM_SS_PREFAULT_AFTER_MB", HK_FT_INT, 64, 0, 1048576, NULL, NULL,
                          "Once more than this many MiB of SuperSlab memory are reserved (in 64 MiB chunks), prefault each "
                          "slab of blocks up to 4 KiB when first formatted for a class its heap holds 4 slabs of "
                          "already, as HAKMEM_SS_PREFAULT=madvise does from the start: a large heap then takes a call "
                          "per slab rather than a fault per page; 0: never. "
                          "Needs MADV_POPULATE_WRITE (Linux 5.14); without it, off"},
  [F_HUGEPAGES] = {"HAKMEM_USE_HUGEPAGES", HK_FT_BOOL, 0, 0, 1, NULL, NULL,
                   "Ask for transparent huge pages (MADV_HUGEPAGE) on SuperSlab memory"},
  [F_LARGE_CACHE_MAX_RUNS] = {"HAKMEM_LARGE_CACHE_MAX_RUNS", HK_FT_INT, 64, 0, 4096, NULL, NULL,
                              "Most free large page runs kept committed for reuse (0: decommit at once)"},
  [F_LARGE_CACHE_MAX_MB] = {"HAKMEM_LARGE_CACHE_MAX_MB", HK_FT_INT, 256, 0, 65536, NULL, NULL,
                            "Most memory (MiB) of free large pages kept committed for reuse"},
  [F_LARGE_MAX_BLOCK] = {"HAKMEM_LARGE_MAX_BLOCK", HK_FT_SIZE, 256 * MiB, 64 * KiB, 1024 * MiB, NULL, NULL,
                         "Largest block placed in the large tier's arenas; bigger ones get their own mapping, unmapped on free"},
  [F_LARGE_TRACE] = {"HAKMEM_LARGE_TRACE", HK_FT_BOOL, 0, 0, 1, NULL, NULL,
                     "Trace large blocks that get their own mapping on stderr: Threshold, MapFail"},
  [F_STATS] = {"HAKMEM_STATS", HK_FT_BOOL, 0, 0, 1, NULL, NULL,
               "Print the statistics report on stderr at exit"},
  [F_STATS_FILE] = {"HAKMEM_STATS_FILE", HK_FT_PATH, 0, 0, 4095, NULL, NULL,
                    "Write the statistics as JSON to this file at exit (empty: no file)"},
  [F_LRU_DEBUG] = {"HAKMEM_SS_LRU_DEBUG", HK_FT_BOOL, 0, 0, 1, NULL, NULL,
                   "Trace LRU cache push, pop and eviction on stderr"},
  [F_FREE_DEBUG] = {"HAKMEM_SS_FREE_DEBUG", HK_FT_BOOL, 0, 0, 1, NULL, NULL,
                    "Trace SuperSlabs becoming empty and being released on stderr"},
  [F_LOCK_STATS] = {"HAKMEM_LOCK_STATS", HK_FT_BOOL, 0, 0, 1, NULL, NULL,
                    "Print hakmem's lock acquisitions per path (and per 100 allocations and frees) on stderr at exit"},
  [F_CHECK] = {"HAKMEM_CHECK", HK_FT_BOOL, 0, 0, 1, NULL, NULL,
               "Validate every free: double frees are reported too (interior and foreign always are)"},
  [F_SECURE] = {"HAKMEM_SECURE", HK_FT_BOOL, 0, 0, 1, NULL, NULL,
                "Encode free-list links with a per-process key and check them on every pop"},
  [F_REMOTE_BATCH] = {"HAKMEM_REMOTE_BATCH", HK_FT_ENUM, MODE_AUTO, 0, 2, mode_names, NULL,
                      "Gather frees into other threads' slabs and push them in batches; until pushed, other threads' "
                      "hak_owns and hak_free_checked take them for live. auto: on for the LD_PRELOAD library, off for "
                      "libhakmem.so; always off with HAKMEM_CHECK or HAKMEM_SECURE"},
  [F_THREAD_CACHE] = {"HAKMEM_THREAD_CACHE", HK_FT_ENUM, MODE_AUTO, 0, 2, mode_names, NULL,
                      "Keep each thread's last frees per size class it allocates (64 blocks and 32 KiB, growing on "
                      "overflow to 512 blocks and 1 MiB for a class the thread allocates, within 4 MiB a thread) for its "
                      "next allocations; until they leave it, hak_owns and hak_free_checked take them for live. auto: on "
                      "for the LD_PRELOAD library, off for "
                      "libhakmem.so; always off with HAKMEM_CHECK or HAKMEM_SECURE"},
  [F_CONFIG] = {"HAKMEM_CONFIG", HK_FT_PATH, 0, 0, 4095, NULL, NULL,
                "JSON file of flags, a flat object keyed by HAKMEM_* names (as bun run tune writes); "
                "the environment overrides it"},
  [F_FAULT_MMAP] = {"HAKMEM_FAULT_MMAP_FAIL_EVERY", HK_FT_INT, 0, 0, 1000000000, NULL, NULL,
                    "Fault injection: make every Nth OS mapping fail with ENOMEM (0: never)"},
};

/* Old names still accepted, each with one warning line the first time it is
 * used: names from the reports of an earlier allocator ("ACE", a "shared
 * pool" this one does not have). */
static const struct { const char *old; int flag; } aliases[] = {
  {"HAKMEM_ACE_MAX_CACHED", F_LARGE_CACHE_MAX_RUNS},
  {"HAKMEM_ACE_MAX_MB", F_LARGE_CACHE_MAX_MB},
  {"HAKMEM_ACE_MAX_BLOCK", F_LARGE_MAX_BLOCK},
  {"HAKMEM_ACE_TRACE", F_LARGE_TRACE},
  {"HAKMEM_SHARED_POOL_LOCK_STATS", F_LOCK_STATS},
};
#define HK_NALIASES (sizeof aliases / sizeof aliases[0])
static _Atomic uint8_t alias_warned[HK_NALIASES];

/* Variables of the HAKMEM_ family that other parts of the project read. */
static const char *const known_elsewhere[] = {"HAKMEM_LIB", NULL};

static int64_t values[HK_NFLAGS];
/* Each flag's canonical text; a path flag's is its value, up to 4095 bytes,
 * on a page of its own that is written only when a path is set (a page for
 * every flag made start-up touch 84 KiB here). */
static char value_text[HK_NFLAGS][64];
static char path_text[2][4096];
static char *text_of(int i) { return i == F_STATS_FILE ? path_text[0] : i == F_CONFIG ? path_text[1] : value_text[i]; }
static void format_value(const hk_flag *f, int64_t v, char *out, size_t cap);
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static bool loaded, frozen;
static _Atomic int frozen_flag;
static char describe_buf[16384];


static void format_size(int64_t v, char *out, size_t cap) {
  if (v >= MiB && v % MiB == 0) snprintf(out, cap, "%lldM", (long long)(v / MiB));
  else if (v >= KiB && v % KiB == 0) snprintf(out, cap, "%lldK", (long long)(v / KiB));
  else snprintf(out, cap, "%lld", (long long)v);
}

static void format_value(const hk_flag *f, int64_t v, char *out, size_t cap) {
  switch (f->type) {
  case HK_FT_PATH: break; /* the text is the value; set_path writes it */
  case HK_FT_SIZE: format_size(v, out, cap); break;
  case HK_FT_ENUM: snprintf(out, cap, "%s", f->names[v]); break;
  default: snprintf(out, cap, "%lld", (long long)v); break;
  }
}

static void format_list(const char *const *names, const int64_t *sizes, char *out, size_t cap) {
  size_t n = 0;
  char tmp[32];
  out[0] = 0;
  for (int i = 0; (names ? names[i] != NULL : sizes[i] != 0) && n < cap; i++) {
    if (!names) format_size(sizes[i], tmp, sizeof tmp);
    n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", names ? names[i] : tmp);
  }
}

static void format_allowed(const hk_flag *f, char *out, size_t cap) {
  char lo[32], hi[32];
  switch (f->type) {
  case HK_FT_BOOL: snprintf(out, cap, "0 or 1 (also true/false, on/off, yes/no)"); break;
  case HK_FT_INT: snprintf(out, cap, "an integer from %lld to %lld", (long long)f->min, (long long)f->max); break;
  case HK_FT_ENUM: format_list(f->names, NULL, out, cap); break;
  case HK_FT_PATH: snprintf(out, cap, "a file path of at most %lld bytes", (long long)f->max); break;
  case HK_FT_SIZE:
    if (f->choices) {
      format_list(NULL, f->choices, out, cap);
    } else {
      format_size(f->min, lo, sizeof lo);
      format_size(f->max, hi, sizeof hi);
      snprintf(out, cap, "a size from %s to %s (suffix K, M or G)", lo, hi);
    }
    break;
  }
}

static bool parse_int(const char *s, int64_t *out) {
  char *end;
  if (!*s || isspace((unsigned char)*s)) return false;
  long long v = strtoll(s, &end, 10);
  if (*end) return false;
  *out = v;
  return true;
}

static bool parse_size(const char *s, int64_t *out) {
  char *end;
  if (!isdigit((unsigned char)*s)) return false;
  unsigned long long v = strtoull(s, &end, 10);
  int64_t mult = 1;
  switch (toupper((unsigned char)*end)) {
  case 'K': mult = KiB; end++; break;
  case 'M': mult = MiB; end++; break;
  case 'G': mult = 1024 * MiB; end++; break;
  default: break;
  }
  if (mult > 1 && (strcasecmp(end, "B") == 0 || strcasecmp(end, "iB") == 0)) end += strlen(end);
  if (*end || v > (unsigned long long)INT64_MAX / (unsigned long long)mult) return false;
  *out = (int64_t)v * mult;
  return true;
}

/* Parses text for flag f; false when unparsable or not allowed. */
static bool parse_value(const hk_flag *f, const char *text, int64_t *out) {
  int64_t v;
  switch (f->type) {
  case HK_FT_BOOL: {
    static const char *const yes[] = {"1", "true", "on", "yes"}, *const no[] = {"0", "false", "off", "no"};
    for (int i = 0; i < 4; i++) {
      if (strcasecmp(text, yes[i]) == 0) { *out = 1; return true; }
      if (strcasecmp(text, no[i]) == 0) { *out = 0; return true; }
    }
    return false;
  }
  case HK_FT_ENUM:
    for (int i = 0; f->names[i]; i++)
      if (strcasecmp(text, f->names[i]) == 0) { *out = i; return true; }
    return false;
  case HK_FT_PATH:
    *out = (int64_t)strlen(text);
    return *out <= f->max;
  case HK_FT_INT:
    if (!parse_int(text, &v) || v < f->min || v > f->max) return false;
    *out = v;
    return true;
  case HK_FT_SIZE:
    if (!parse_size(text, &v)) return false;
    if (f->choices) {
      for (int i = 0; f->choices[i]; i++)
        if (f->choices[i] == v) { *out = v; return true; }
      return false;
    }
    if (v < f->min || v > f->max) return false;
    *out = v;
    return true;
  }
  return false;
}

static int find_flag(const char *name) {
  if (!name) return -1;
  const char *bare = strncmp(name, "HAKMEM_", 7) == 0 ? name + 7 : name;
  for (int i = 0; i < HK_NFLAGS; i++)
    if (strcmp(flags[i].name + 7, bare) == 0) return i;
  for (size_t k = 0; k < HK_NALIASES; k++) {
    if (strcmp(aliases[k].old + 7, bare) != 0) continue;
    if (!atomic_exchange(&alias_warned[k], 1))
      hk_log("hakmem: warning: %s is the old name of %s; use the new name", aliases[k].old, flags[aliases[k].flag].name);
    return aliases[k].flag;
  }
  return -1;
}

/* text: the parsed input, kept as the value of a path flag. Other values
 * are put in words only when asked for (value_text_now): formatting every
 * flag at initialisation ran snprintf, whose code and tables (0.15 to 0.25
 * MiB of libc) then counted in the resident size of every process that
 * preloads hakmem. */
static void set_value(int i, int64_t v, const char *text) {
  values[i] = v;
  if (flags[i].type != HK_FT_PATH) return;
  char *t = text_of(i);
  if (text && *text) snprintf(t, sizeof path_text[0], "%s", text);
  else if (t[0]) t[0] = 0; /* an empty path leaves an untouched page untouched */
}

/* The value of flag i in words (config_lock held). */
static const char *value_text_now(int i) {
  if (flags[i].type != HK_FT_PATH) format_value(&flags[i], values[i], value_text[i], sizeof value_text[i]);
  return text_of(i);
}

/* Applies one setting from source ("environment" or a config file). A bad
 * value gets one line naming flag, value and allowed range, and the flag keeps
 * its value; an unknown HAKMEM_* name gets a warning. */
static void apply_setting(const char *source, const char *name, const char *text) {
  int i = strncmp(name, "HAKMEM_", 7) == 0 ? find_flag(name) : -1;
  if (i < 0) {
    for (int k = 0; known_elsewhere[k]; k++)
      if (strcmp(known_elsewhere[k], name) == 0) return;
    hk_log("hakmem: warning: %s: unknown variable %s ignored (hak_config_describe lists the flags)", source, name);
    return;
  }
  if (i == F_CONFIG && strcmp(source, "environment") != 0) return; /* a file does not name another file */
  int64_t v;
  if (parse_value(&flags[i], text, &v)) {
    set_value(i, v, text);
  } else {
    char allowed[160];
    format_allowed(&flags[i], allowed, sizeof allowed);
    const char *now = value_text_now(i);
    hk_log("hakmem: %s: %s=\"%s\" is not allowed (allowed: %s); using %s", source, flags[i].name, text, allowed,
           now[0] ? now : "nothing");
  }
}

/* Reads the configuration once: defaults, then the HAKMEM_CONFIG file, then
 * the environment (hak_config_set applies on top, until the first allocation). */
static void load_locked(void) {
  extern char **environ;
  if (loaded) return;
  loaded = true;
  for (int i = 0; i < HK_NFLAGS; i++) set_value(i, flags[i].def, "");
  const char *file = getenv("HAKMEM_CONFIG");
  if (file && *file) hk_config_file_read(file, apply_setting);
  for (char **e = environ; e && *e; e++) {
    if (strncmp(*e, "HAKMEM_", 7) != 0) continue;
    const char *eq = strchr(*e, '=');
    if (!eq) continue;
    char name[96];
    size_t len = (size_t)(eq - *e);
    if (len >= sizeof name) len = sizeof name - 1;
    memcpy(name, *e, len);
    name[len] = 0;
    apply_setting("environment", name, eq + 1);
  }
}

void hk_config_load(void) {
  hk_mutex_lock(&config_lock);
  load_locked();
  hk_mutex_unlock(&config_lock);
}

void hk_config_freeze(void) {
  hk_mutex_lock(&config_lock);
  load_locked();
  frozen = true;
  atomic_store(&frozen_flag, 1);
  g_hk.ss_size = (size_t)values[F_SS_SIZE];
  g_hk.ss_mask = ~((uintptr_t)g_hk.ss_size - 1);
  g_hk.nslabs = (unsigned)(g_hk.ss_size >> HK_SLAB_SHIFT);
  g_hk.lru_max_cached = (size_t)values[F_LRU_MAX_CACHED];
  g_hk.lru_max_bytes = (size_t)values[F_LRU_MAX_MB] << 20;
  g_hk.lru_ttl_ns = (uint64_t)values[F_LRU_TTL_SEC] * 1000000000ull;
  g_hk.prefault = (uint8_t)values[F_PREFAULT];
  g_hk.hugepages = (uint8_t)values[F_HUGEPAGES];
  g_hk.prefault_after_bytes = (size_t)values[F_PREFAULT_AFTER_MB] << 20;
  g_hk.stats_at_exit = (uint8_t)values[F_STATS];
  g_hk.trace_lru = (uint8_t)values[F_LRU_DEBUG];
  g_hk.trace_ss_free = (uint8_t)values[F_FREE_DEBUG];
  g_hk.check = (uint8_t)values[F_CHECK];
  g_hk.secure = (uint8_t)values[F_SECURE];
  g_hk.free_checks = g_hk.check | g_hk.secure;
  g_hk.free_fast_words = g_hk.free_checks ? 0 : HK_REG_WORDS;
  g_hk.remote_batch = !g_hk.free_checks && (values[F_REMOTE_BATCH] == MODE_ON ||
                                            (values[F_REMOTE_BATCH] == MODE_AUTO && hk_host_policy.remote_batch_by_default));
  g_hk.thread_cache = !g_hk.free_checks && (values[F_THREAD_CACHE] == MODE_ON ||
                                            (values[F_THREAD_CACHE] == MODE_AUTO && hk_host_policy.thread_cache_by_default));
  g_hk.map_fail_every = (uint64_t)values[F_FAULT_MMAP]; /* handed to os.c by hk_init */
  g_hk.large_cache_max_runs = (size_t)values[F_LARGE_CACHE_MAX_RUNS];
  g_hk.large_cache_max_bytes = (size_t)values[F_LARGE_CACHE_MAX_MB] << 20;
  g_hk.large_max_block = (size_t)values[F_LARGE_MAX_BLOCK];
  g_hk.large_trace = (uint8_t)values[F_LARGE_TRACE];
  g_hk.lock_stats = (uint8_t)values[F_LOCK_STATS];
  hk_mutex_unlock(&config_lock);
}

void hk_config_fork_prepare(void) { pthread_mutex_lock(&config_lock); }
void hk_config_fork_parent(void) { pthread_mutex_unlock(&config_lock); }

int hak_config_locked(void) { return atomic_load(&frozen_flag); }

int hak_config_set(const char *name, const char *value) {
  int i = find_flag(name);
  if (i < 0) return HAK_E_UNKNOWN_FLAG;
  if (!value) return HAK_E_BAD_VALUE;
  int rc = HAK_OK;
  hk_mutex_lock(&config_lock);
  load_locked();
  int64_t v;
  if (frozen) rc = HAK_E_LOCKED;
  else if (!parse_value(&flags[i], value, &v)) rc = HAK_E_BAD_VALUE;
  else set_value(i, v, value);
  if (rc == HAK_OK && i == F_CONFIG && *value) hk_config_file_read(value, apply_setting); /* the file's settings, now */
  hk_mutex_unlock(&config_lock);
  return rc;
}

int64_t hk_config_value(const char *name) {
  int i = find_flag(name);
  if (i < 0) return -1;
  hk_mutex_lock(&config_lock);
  load_locked();
  int64_t v = values[i];
  hk_mutex_unlock(&config_lock);
  return v;
}

const char *hak_config_get(const char *name) {
  int i = find_flag(name);
  if (i < 0) return NULL;
  hk_mutex_lock(&config_lock);
  load_locked();
  const char *text = value_text_now(i);
  hk_mutex_unlock(&config_lock);
  return text;
}

static size_t json_str(char *out, size_t cap, const char *s) {
  size_t n = 0;
  if (n < cap) out[n++] = '"';
  for (; *s && n + 7 < cap; s++) {
    if ((unsigned char)*s < 0x20) {
      n += (size_t)snprintf(out + n, cap - n, "\\u%04x", (unsigned char)*s);
      continue;
    }
    if (*s == '"' || *s == '\\') out[n++] = '\\';
    out[n++] = *s;
  }
  if (n < cap) out[n++] = '"';
  return n;
}

const char *hak_config_describe(void) {
  static const char *const type_names[] = {"bool", "int", "size", "enum", "path"};
  char tmp[64];
  hk_mutex_lock(&config_lock);
  load_locked();
  char *o = describe_buf;
  size_t cap = sizeof describe_buf, n = 0;
#define PUT(...) (n += (size_t)snprintf(o + n, n < cap ? cap - n : 0, __VA_ARGS__))
#define PUTS(s) (n += json_str(o + n, n < cap ? cap - n : 0, (s)))
  PUT("[");
  for (int i = 0; i < HK_NFLAGS; i++) {
    const hk_flag *f = &flags[i];
    PUT("%s{\"name\":", i ? "," : "");
    PUTS(f->name);
    PUT(",\"type\":\"%s\",\"default\":", type_names[f->type]);
    tmp[0] = 0;
    format_value(f, f->def, tmp, sizeof tmp);
    PUTS(tmp);
    PUT(",\"min\":%lld,\"max\":%lld,\"values\":[", (long long)f->min, (long long)f->max);
    for (int k = 0; f->type == HK_FT_ENUM && f->names[k]; k++) {
      PUT("%s", k ? "," : "");
      PUTS(f->names[k]);
    }
    for (int k = 0; f->type == HK_FT_SIZE && f->choices && f->choices[k]; k++) {
      format_size(f->choices[k], tmp, sizeof tmp);
      PUT("%s", k ? "," : "");
      PUTS(tmp);
    }
    PUT("],\"aliases\":[");
    for (size_t k = 0, m = 0; k < HK_NALIASES; k++) {
      if (aliases[k].flag != i) continue;
      PUT("%s", m++ ? "," : "");
      PUTS(aliases[k].old);
    }
    PUT("],\"description\":");
    PUTS(f->desc);
    PUT(",\"value\":");
    PUTS(value_text_now(i));
    PUT("}");
  }
  PUT("]");
#undef PUT
#undef PUTS
  hk_mutex_unlock(&config_lock);
  return describe_buf;
}
