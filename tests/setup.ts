/**
 * bun test preload: builds the libraries, benchmarks and C tests once, before
 * any test file runs, so every suite sees a complete and current build/.
 */
import { ROOT } from "./support.ts";

const make = Bun.spawnSync(["make", "-j2"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
if (!make.success) {
  const output = `${make.stdout.toString()}${make.stderr.toString()}`.trimEnd();
  const status = make.signalCode ? `was killed by ${make.signalCode}` : `exited with status ${make.exitCode}`;
  throw new Error(`make -j2 ${status} in ${ROOT}:\n${output}`);
}
