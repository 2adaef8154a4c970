/**
 * Where the native library is and the error for when it is not there; shared by the Bun and Deno entry points.
 *
 * @module
 */
import { HakmemError } from "./errors.ts";

/** The library the bindings load by default: `build/libhakmem.so` at the package root (next to src/ and dist/). */
export const DEFAULT_LIBRARY_URL: URL = new URL("../build/libhakmem.so", import.meta.url);

/** The package root, for messages. */
const PACKAGE_ROOT_URL = new URL("..", import.meta.url);

function urlPath(url: URL): string {
  return decodeURIComponent(url.pathname);
}

/** The path to load: `HAKMEM_LIB` when set and not empty, else {@link DEFAULT_LIBRARY_URL}. */
export function libraryPath(envValue: string | undefined): string {
  return envValue !== undefined && envValue !== "" ? envValue : urlPath(DEFAULT_LIBRARY_URL);
}

/** The error for a library file that does not exist, saying how to build it. */
export function libraryNotFound(path: string, fromEnv: boolean): HakmemError {
  const root = urlPath(PACKAGE_ROOT_URL).replace(/\/$/, "");
  const hint = fromEnv
    ? `HAKMEM_LIB points at ${path}, which does not exist; unset it to use ${urlPath(DEFAULT_LIBRARY_URL)}, or build the library and point HAKMEM_LIB at it`
    : `build it first: run \`make\` (or \`npm run build\`) in ${root}; it needs gcc and make. HAKMEM_LIB may point at a libhakmem.so elsewhere`;
  return new HakmemError("LIBRARY_NOT_FOUND", `the hakmem native library ${path} does not exist: ${hint}`);
}

/** The error for a library that exists but could not be opened. */
export function libraryLoadFailed(path: string, cause: unknown): HakmemError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new HakmemError(
    "LIBRARY_LOAD_FAILED",
    `could not load the hakmem native library ${path}: ${why} (rebuild it with \`make\` or \`npm run build\`)`,
    { cause },
  );
}
