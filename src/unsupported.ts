/**
 * What `import "hakmem"` gives a runtime that is neither Bun nor Deno (the package's `default` export condition):
 * one clear error instead of an `ERR_UNSUPPORTED_ESM_URL_SCHEME` about `bun:ffi`. Node.js is not bound on purpose:
 * the bindings' point is a cheap FFI call, and Node's FFI libraries (koffi, node-ffi) are native addons with their
 * own install step and a dearer call, which would be a second, slower implementation to keep in step.
 *
 * @module
 */
const versions = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions;
const runtime = versions?.node === undefined ? "this JavaScript runtime" : `Node.js ${versions.node}`;
throw new Error(
  `hakmem runs on Bun (https://bun.sh) or Deno (https://deno.com), not on ${runtime}: its bindings are bun:ffi and Deno.dlopen. ` +
    "Run the app with `bun app.ts`, or `deno run --allow-ffi --allow-env=HAKMEM_LIB app.ts` (hakmem/tune and the hakmem command need Bun).",
);
