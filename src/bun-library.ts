/**
 * Finding and opening the native library under Bun (see src/library.ts for the order of the candidates).
 *
 * The prebuilt library is reached through `build/prebuilt/<platform>/library.js`, which `npm pack` writes next to it and which
 * imports it with `{ type: "file" }`. The `require()` calls below use fixed strings, so `bun build` follows them:
 * `--compile` embeds the library in the executable (the import then gives a `/$bunfs/...` path that `dlopen` opens)
 * and `--target bun` copies it next to the output file.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { dlopen, type FFIFunction, type Library } from "bun:ffi";
import {
  buildFile,
  type LibraryCandidate,
  libraryCandidates,
  libraryLoadFailed,
  libraryNotFound,
  platformKey,
  prebuiltFile,
} from "./library.ts";

/** This process's platform, e.g. `linux-x64`. */
export const PLATFORM: string = platformKey(process.platform, process.arch);

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "MODULE_NOT_FOUND" || code === "ERR_MODULE_NOT_FOUND";
}

/** The prebuilt library of this platform as the bundler sees it, or undefined when the package has none. */
function prebuiltLibrary(): string | undefined {
  let path: unknown;
  try {
    if (PLATFORM === "linux-x64") path = require("../build/prebuilt/linux-x64/library.js").default;
    else if (PLATFORM === "linux-arm64") path = require("../build/prebuilt/linux-arm64/library.js").default;
  } catch (error) {
    if (!isModuleNotFound(error)) throw error;
  }
  if (typeof path !== "string") return undefined;
  // `bun build --target bun` makes the path relative to the output file, not to the working directory.
  return isAbsolute(path) ? path : join(import.meta.dir, path);
}

/** The candidates for this process: `HAKMEM_LIB`, else the prebuilt library, then build/. */
function candidates(): LibraryCandidate[] {
  return libraryCandidates(process.env.HAKMEM_LIB, prebuiltLibrary());
}

/** The library that {@link openLibrary} opens (or would open): the first candidate that exists. */
export function findLibrary(): LibraryCandidate {
  const list = candidates();
  const found = list.find((c) => existsSync(c.path));
  if (found === undefined) throw libraryNotFound(list, PLATFORM);
  return found;
}

/** Opens the library with `bun:ffi`; throws `LIBRARY_NOT_FOUND` or `LIBRARY_LOAD_FAILED`. */
export function openLibrary<Fns extends Record<string, FFIFunction>>(symbols: Fns): { library: Library<Fns>; path: string } {
  const found = findLibrary();
  try {
    return { library: dlopen(found.path, symbols), path: found.path };
  } catch (cause) {
    throw libraryLoadFailed(found, cause);
  }
}

/**
 * A native file the package builds (`libhakmem_preload.so`, `runstat`, a benchmark program): the prebuilt one for
 * this platform when the package carries it, else `build/NAME` (which may not exist; callers say what to run then).
 */
export function nativeFile(name: string): string {
  const prebuilt = prebuiltFile(PLATFORM, name);
  return existsSync(prebuilt) ? prebuilt : buildFile(name);
}
