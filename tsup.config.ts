/**
 * tsup builds dist/ for runtimes that take neither the "bun" nor the "deno" export condition: dist/index.js (ESM)
 * and dist/index.d.ts from src/index.ts. Run it with `npm run build:ts`. The bundle still needs Bun at run time
 * (it imports bun:ffi); Deno uses src/deno.ts directly.
 */
import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts" },
  format: ["esm"],
  dts: true,
  clean: true,
  outDir: "dist",
  target: "esnext",
  platform: "node",
  sourcemap: true,
  splitting: false,
  external: ["bun:ffi"],
});
