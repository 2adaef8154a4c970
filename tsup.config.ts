/**
 * tsup builds dist/ for the package (`npm pack` runs it in prepack; `npm run build:ts` by hand):
 *
 * - dist/deno.js: the Deno entry (src/deno.ts) as JavaScript, since Deno will not load TypeScript from node_modules.
 * - dist/unsupported.js: what other runtimes (Node.js) get: one error naming Bun and Deno.
 * - dist/index.d.ts and dist/tune.d.ts: declarations for every export path, so that an app's own compiler settings
 *   never check the package's sources. Bun itself runs src/*.ts.
 */
import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: { deno: "src/deno.ts", unsupported: "src/unsupported.ts" },
    format: ["esm"],
    outDir: "dist",
    clean: true,
    target: "esnext",
    platform: "neutral",
    splitting: false,
    sourcemap: true,
  },
  {
    entry: { index: "src/index.ts", tune: "src/tune/index.ts" },
    format: ["esm"],
    outDir: "dist",
    dts: { only: true },
  },
]);
