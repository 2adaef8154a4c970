/**
 * The allocators the benchmarks compare and where their libraries are.
 *
 * glibc and hakmem are always there (hakmem after `make`); the peers come from
 * Debian packages and may be missing on a fresh machine, in which case every
 * benchmark skips them and says how to install them.
 */
import { existsSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import { PACKAGE_ROOT } from "../../src/library.ts";

/** The repository root: the package root of src/library.ts. */
export const ROOT = PACKAGE_ROOT;
export const BUILD = join(ROOT, "build");
export const HAKMEM_PRELOAD = join(BUILD, "libhakmem_preload.so");
/** The FFI library: `HAKMEM_LIB` when set, as in src/index.ts. */
export const HAKMEM_FFI = process.env.HAKMEM_LIB ? process.env.HAKMEM_LIB : join(BUILD, "libhakmem.so");

export const PEER_INSTALL_HINT = "apt-get install libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4";

export type PeerName = "mimalloc" | "jemalloc" | "tcmalloc";

export interface Peer {
  name: PeerName;
  /** File name pattern in the library directories. */
  pattern: string;
  /** The Debian package that provides it. */
  debianPackage: string;
  /** Entry points for a direct FFI call (the peer's own prefixed names where it has them). */
  symbols: { malloc: string; free: string; realloc: string };
}

export const PEERS: readonly Peer[] = [
  {
    name: "mimalloc",
    pattern: "libmimalloc.so.2*",
    debianPackage: "libmimalloc2.0",
    symbols: { malloc: "mi_malloc", free: "mi_free", realloc: "mi_realloc" },
  },
  {
    name: "jemalloc",
    pattern: "libjemalloc.so.2",
    debianPackage: "libjemalloc2",
    // Debian builds jemalloc without a prefix: malloc/free looked up in its own handle are jemalloc's.
    symbols: { malloc: "malloc", free: "free", realloc: "realloc" },
  },
  {
    name: "tcmalloc",
    pattern: "libtcmalloc_minimal.so.4*",
    debianPackage: "libtcmalloc-minimal4",
    symbols: { malloc: "tc_malloc", free: "tc_free", realloc: "tc_realloc" },
  },
];

export interface FoundPeer extends Peer {
  /** The library to load (the soname link). */
  path: string;
  /** The file it resolves to, whose name carries the version (libtcmalloc_minimal.so.4.5.10). */
  file: string;
}

export interface MissingPeer {
  name: PeerName;
  reason: string;
}

/**
 * Where the peers are looked for: the Debian library directories, or the colon-separated list in
 * BENCH_PEER_DIRS (the tests point it at an empty directory to see every peer skipped).
 */
function libraryDirs(): string[] {
  const override = process.env.BENCH_PEER_DIRS;
  if (override !== undefined) return override.split(":").filter((dir) => dir !== "");
  const multiarch = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  return [`/usr/lib/${multiarch}`, "/usr/local/lib", "/usr/lib", `/lib/${multiarch}`];
}

/** The first library matching pattern, shortest name first (the soname link before the versioned file). */
export function findLibrary(pattern: string): string | null {
  const glob = new Bun.Glob(pattern);
  for (const dir of libraryDirs()) {
    if (!existsSync(dir)) continue;
    const names = [...glob.scanSync({ cwd: dir, onlyFiles: false })];
    names.sort((a, b) => a.length - b.length || a.localeCompare(b));
    if (names.length > 0) return join(dir, names[0]!);
  }
  return null;
}

/** Installed peers, and the missing ones with the line that installs them. */
export function discoverPeers(): { found: FoundPeer[]; missing: MissingPeer[] } {
  const found: FoundPeer[] = [];
  const missing: MissingPeer[] = [];
  for (const peer of PEERS) {
    const path = findLibrary(peer.pattern);
    if (path === null) {
      missing.push({ name: peer.name, reason: `not installed (${peer.pattern} not found); ${PEER_INSTALL_HINT}` });
      continue;
    }
    let file = basename(path);
    try {
      file = basename(realpathSync(path));
    } catch {
      // a dangling link is reported when it fails to load
    }
    found.push({ ...peer, path, file });
  }
  return { found, missing };
}

/**
 * jemalloc (and other libraries built with initial-exec TLS) can only be dlopen()ed when the process reserved
 * enough static TLS at start-up, which glibc sizes from this tunable. The microbenchmarks that load the peers
 * with bun:ffi call this first: when the variable is not set, the script runs itself again with it and exits
 * with the child's status. It changes nothing else in the process.
 */
export const STATIC_TLS_TUNABLE = "glibc.rtld.optional_static_tls=16384";

export function withStaticTls(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const current = env.GLIBC_TUNABLES;
  if (current?.includes("glibc.rtld.optional_static_tls")) return env;
  return { ...env, GLIBC_TUNABLES: current ? `${current}:${STATIC_TLS_TUNABLE}` : STATIC_TLS_TUNABLE };
}

export function ensureStaticTls(): void {
  if (process.platform !== "linux" || process.env.GLIBC_TUNABLES?.includes("glibc.rtld.optional_static_tls")) return;
  if (discoverPeers().found.length === 0) return;
  const child = Bun.spawnSync([process.execPath, ...process.argv.slice(1)], {
    env: withStaticTls(process.env),
    stdio: ["inherit", "inherit", "inherit"],
  });
  process.exit(child.exitCode ?? 1);
}
