/**
 * Run by tests/config.test.ts in a fresh process, because configuration is process-wide and freezes at the first
 * allocation. `bun tests/config.child.ts ENTRY MODE [JSON]` imports the bindings from ENTRY (a path) and prints one
 * JSON object on stdout:
 *
 * - `config`: `{ config, locked }`, the effective configuration of this process (set by its environment).
 * - `configure JSON`: calls `configure(JSON)` before any allocation, then allocates and tries to configure again:
 *   `{ lockedBefore, error, config, lockedAfter, superslabBytes, second }` (`error`/`second`: HakmemError codes).
 * - `import`: imports ENTRY, uses what needs no library (FLAGS, parseSize, toEnv, fromEnv, ConfigSchema), then
 *   allocates: `{ noLibrary, error: { code, message } | null }` (to see that importing never throws and how
 *   loading fails).
 */
const [entry, mode, json] = process.argv.slice(2);
if (entry === undefined || mode === undefined) {
  console.error("usage: bun tests/config.child.ts ENTRY config|configure|import [JSON]");
  process.exit(2);
}

const h = (await import(entry)) as typeof import("../src/index.ts");

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof h.HakmemError) return e.code;
    throw e;
  }
}

if (mode === "config") {
  console.log(JSON.stringify({ config: h.config(), locked: h.configLocked() }));
} else if (mode === "configure") {
  const options = JSON.parse(json ?? "{}");
  const lockedBefore = h.configLocked();
  const error = codeOf(() => h.configure(options));
  const config = h.config();
  const p = h.alloc(64);
  const lockedAfter = h.configLocked();
  const superslabBytes = h.stats().superslab_bytes;
  const second = codeOf(() => h.configure({ lruTtlSec: 1 }));
  h.free(p);
  console.log(JSON.stringify({ lockedBefore, error, config, lockedAfter, superslabBytes, second }));
} else if (mode === "import") {
  const noLibrary = {
    flags: Object.keys(h.FLAGS).length,
    size: h.parseSize("2M"),
    env: h.toEnv({ superslabSize: "2M" }),
    fromEnv: h.fromEnv({ HAKMEM_SS_LRU_MAX_CACHED: "3" }),
    schema: new h.ConfigSchema([]).specs.length,
  };
  let error: { code: string; message: string } | null = null;
  try {
    h.free(h.alloc(16));
  } catch (e) {
    if (!(e instanceof h.HakmemError)) throw e;
    error = { code: e.code, message: e.message };
  }
  console.log(JSON.stringify({ noLibrary, error }));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
