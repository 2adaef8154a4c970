/* The reader of the HAKMEM_CONFIG file, for config.c, which hands it the
 * function that applies each setting (this file knows no flag). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

/* HAKMEM_CONFIG: a flat JSON object {"HAKMEM_X": "text" | number | true | false, ...}.
 * Parsed without allocating (this runs inside the allocator's initialisation):
 * the whole file is validated first, so a broken file changes nothing. */
#define CONFIG_FILE_MAX 65536
#define CONFIG_PAIRS_MAX 64

typedef struct { const char *at; size_t err; } json_cursor;

static void json_ws(json_cursor *c) { while (*c->at == ' ' || *c->at == '\t' || *c->at == '\n' || *c->at == '\r') c->at++; }

/* A string without escapes other than \" and \\, copied into out. */
static bool json_string(json_cursor *c, char *out, size_t cap) {
  if (*c->at != '"') return false;
  size_t n = 0;
  for (c->at++; *c->at != '"'; c->at++) {
    if (!*c->at || (unsigned char)*c->at < 0x20 || n + 1 >= cap) return false;
    if (*c->at == '\\') {
      c->at++;
      if (*c->at != '"' && *c->at != '\\' && *c->at != '/') return false;
    }
    out[n++] = *c->at;
  }
  c->at++;
  out[n] = 0;
  return true;
}

/* A value as the flag text: strings as they are, numbers verbatim, booleans as 1/0. */
static bool json_value(json_cursor *c, char *out, size_t cap) {
  if (*c->at == '"') return json_string(c, out, cap);
  if (strncmp(c->at, "true", 4) == 0) { c->at += 4; snprintf(out, cap, "1"); return true; }
  if (strncmp(c->at, "false", 5) == 0) { c->at += 5; snprintf(out, cap, "0"); return true; }
  size_t n = 0;
  while ((isdigit((unsigned char)*c->at) || *c->at == '-' || *c->at == '+' || *c->at == '.' || *c->at == 'e' ||
          *c->at == 'E') && n + 1 < cap)
    out[n++] = *c->at++;
  out[n] = 0;
  return n > 0;
}

void hk_config_file_read(const char *path, void (*apply)(const char *source, const char *name, const char *text)) {
  static char text[CONFIG_FILE_MAX];
  static char keys[CONFIG_PAIRS_MAX][64], vals[CONFIG_PAIRS_MAX][256];
  /* Non-blocking: opening a FIFO with no writer must not hang the program
   * (every preloaded program reads this file at start); only a regular file
   * is read. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    hk_log("hakmem: HAKMEM_CONFIG=%s: cannot open it (%s); no file settings applied", path, strerror(errno));
    return;
  }
  struct stat st;
  const char *wrong = fstat(fd, &st) != 0 ? strerror(errno)
                      : S_ISDIR(st.st_mode) ? "it is a directory, not a file"
                      : !S_ISREG(st.st_mode) ? "it is not a regular file (a FIFO, socket or device)"
                      : st.st_size > (off_t)sizeof text - 1 ? "the file is larger than 64 KiB - 1 byte"
                      : NULL;
  if (wrong) {
    close(fd);
    hk_log("hakmem: HAKMEM_CONFIG=%s: %s; no file settings applied", path, wrong);
    return;
  }
  size_t len = 0;
  ssize_t r;
  while (len < sizeof text - 1 && (r = read(fd, text + len, sizeof text - 1 - len)) > 0) len += (size_t)r;
  close(fd);
  text[len] = 0;
  json_cursor c = {text, 0};
  int npairs = 0;
  bool ok = len < sizeof text - 1;
  json_ws(&c);
  ok = ok && *c.at++ == '{';
  json_ws(&c);
  if (ok && *c.at == '}') c.at++;
  else
    while (ok) {
      json_ws(&c);
      ok = npairs < CONFIG_PAIRS_MAX && json_string(&c, keys[npairs], sizeof keys[0]);
      json_ws(&c);
      ok = ok && *c.at++ == ':';
      json_ws(&c);
      ok = ok && json_value(&c, vals[npairs], sizeof vals[0]);
      npairs += ok;
      json_ws(&c);
      if (ok && *c.at == '}') { c.at++; break; }
      ok = ok && *c.at++ == ',';
    }
  json_ws(&c);
  if (!ok || *c.at) {
    hk_log("hakmem: HAKMEM_CONFIG=%s: not a flat JSON object of flags (problem near byte %zu); no file settings applied",
           path, (size_t)(c.at - text));
    return;
  }
  for (int i = 0; i < npairs; i++) apply(path, keys[i], vals[i]);
}
