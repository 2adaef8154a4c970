/**
 * Where the native library is, and the errors for when it is missing or broken; shared by the Bun and Deno entry
 * points, each of which opens the library with its own FFI on the first call that needs it.
 *
 * The library is found next to the package's own files (through `import.meta.url`), never through the working
 * directory. Candidates, in order:
 *
 * 1. `HAKMEM_LIB`, when set and not empty: only that file (a missing one is an error, not a reason to look on).
 * 2. The prebuilt library the package carries for this platform, `build/prebuilt/<platform>/libhakmem.so`
 *    (linux-x64 and linux-arm64, glibc; `npm pack` builds them with `make prebuilt`, and `postpack` removes them
 *    from a checkout again, so that a checkout always runs what `make` built last).
 * 3. `build/libhakmem.so` at the package root: a checkout after `make`, or an installed package after
 *    `hakmem build` on a platform with no prebuilt library.
 *
 * @module
 */
import { HakmemError } from "./errors.ts";

/** Platforms the package carries a prebuilt library for (`build/prebuilt/<platform>/`), in Node's names. */
export const PREBUILT_PLATFORMS: readonly string[] = ["linux-x64", "linux-arm64"];

/** The package root: src/ and dist/ both sit one level below it. */
const PACKAGE_ROOT_URL = new URL("..", import.meta.url);

function urlPath(url: URL): string {
  return decodeURIComponent(url.pathname);
}

/** The package root as a path, without a trailing slash (for messages and the CLI). */
export const PACKAGE_ROOT: string = urlPath(PACKAGE_ROOT_URL).replace(/\/$/, "");

/** `build/NAME` at the package root (what `make` writes). */
export function buildFile(name: string): string {
  return urlPath(new URL(`build/${name}`, PACKAGE_ROOT_URL));
}

/** `build/prebuilt/PLATFORM/NAME` at the package root (what `npm pack` ships). */
export function prebuiltFile(platform: string, name: string): string {
  return urlPath(new URL(`build/prebuilt/${platform}/${name}`, PACKAGE_ROOT_URL));
}

/** `<os>-<arch>` in Node's names (`linux-x64`), from Node/Bun's or Deno's spelling of the architecture. */
export function platformKey(os: string, arch: string): string {
  const names: Readonly<Record<string, string>> = { x86_64: "x64", aarch64: "arm64" };
  return `${os}-${names[arch] ?? arch}`;
}

/** Where a candidate came from, for messages. */
export type LibrarySource = "HAKMEM_LIB" | "prebuilt" | "build";

export interface LibraryCandidate {
  path: string;
  source: LibrarySource;
}

/**
 * The files to try, in order: `HAKMEM_LIB` alone when it is set; else the prebuilt library (`prebuilt`, when this
 * platform has one; the Bun entry passes the path its bundler sees, so that `bun build --compile` embeds it) and
 * `build/libhakmem.so`.
 */
export function libraryCandidates(envValue: string | undefined, prebuilt: string | undefined): LibraryCandidate[] {
  if (envValue !== undefined && envValue !== "") return [{ path: envValue, source: "HAKMEM_LIB" }];
  const out: LibraryCandidate[] = [];
  if (prebuilt !== undefined) out.push({ path: prebuilt, source: "prebuilt" });
  out.push({ path: buildFile("libhakmem.so"), source: "build" });
  return out;
}

/** What to run to build native files inside this package (a checkout or an installed package); `make` targets. */
export function buildAdvice(targets = "libs"): string {
  return `run \`bunx hakmem build\` in your app, or \`make ${targets}\` in ${PACKAGE_ROOT} (it needs only gcc and make)`;
}

/** The error for a library that is not there: `HAKMEM_LIB` naming nothing, or no candidate at all. */
export function libraryNotFound(candidates: readonly LibraryCandidate[], platform: string): HakmemError {
  const first = candidates[0];
  if (first?.source === "HAKMEM_LIB") {
    return new HakmemError(
      "LIBRARY_NOT_FOUND",
      `the hakmem native library ${first.path} does not exist: HAKMEM_LIB points at it; unset HAKMEM_LIB to use the library of the package, or point it at a libhakmem.so`,
    );
  }
  const prebuilt = PREBUILT_PLATFORMS.includes(platform)
    ? `this copy of hakmem carries no prebuilt library for ${platform} (a checkout of the repository has none; npm pack adds them)`
    : `hakmem carries prebuilt libraries for ${PREBUILT_PLATFORMS.join(" and ")} (glibc) only, and this is ${platform}`;
  return new HakmemError(
    "LIBRARY_NOT_FOUND",
    `the hakmem native library ${buildFile("libhakmem.so")} does not exist: ${prebuilt}. Build it: ${buildAdvice()}. HAKMEM_LIB may point at a libhakmem.so elsewhere`,
  );
}

/** The error for a library that exists but could not be opened. */
export function libraryLoadFailed(candidate: LibraryCandidate, cause: unknown): HakmemError {
  const why = cause instanceof Error ? cause.message : String(cause);
  const advice =
    candidate.source === "HAKMEM_LIB"
      ? "point HAKMEM_LIB at a libhakmem.so built for this machine"
      : `build one for this machine: ${buildAdvice()}`;
  return new HakmemError("LIBRARY_LOAD_FAILED", `could not load the hakmem native library ${candidate.path}: ${why} (${advice})`, {
    cause,
  });
}

/** A function table such as `bun:ffi`'s or `Deno.dlopen`'s `symbols`. */
type SymbolTable = Record<string, (...args: never[]) => unknown>;

/**
 * A symbol table whose functions open the library on the first call of any of them. `open` returns the real table;
 * its functions then replace every stub in place, so that after the first call a caller's `sym.hak_x(...)` is the
 * same property load and call as on the library's own table: loading lazily costs the hot path nothing. When `open`
 * throws, the stubs stay and the next call tries again.
 */
export function lazySymbols<T extends SymbolTable>(names: readonly (keyof T & string)[], open: () => T): T {
  const table = {} as Record<string, (...args: unknown[]) => unknown>;
  const bind = () => {
    const real = open() as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of names) table[name] = real[name] as (...args: unknown[]) => unknown;
  };
  for (const name of names) {
    table[name] = (...args: unknown[]) => {
      bind();
      return (table[name] as (...args: unknown[]) => unknown)(...args);
    };
  }
  return table as unknown as T;
}
