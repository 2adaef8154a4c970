/**
 * The machine a measurement ran on, as benchmark results and sweep journals record it: CPU model, logical cores,
 * kernel, memory. Two measurements compare only when these match.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import os from "node:os";

/** What a measurement records about its machine. */
export interface MachineInfo {
  /** CPU model name (/proc/cpuinfo). */
  cpu: string;
  /** Logical CPUs the process can see. */
  cores: number;
  /** Kernel, e.g. "Linux 6.1.0-18-amd64". */
  kernel: string;
  memoryBytes: number;
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (match?.[1]) return match[1].trim();
  } catch {
    // not Linux: fall back on what node:os knows
  }
  return os.cpus()[0]?.model.trim() || "unknown CPU";
}

/** This machine. */
export function machineInfo(): MachineInfo {
  return { cpu: cpuModel(), cores: os.cpus().length, kernel: `${os.type()} ${os.release()}`, memoryBytes: os.totalmem() };
}

/** The hardware part of a machine (CPU model and cores): what must match for timings to compare. */
export function hardwareKey(m: Pick<MachineInfo, "cpu" | "cores">): string {
  return `${m.cpu} × ${m.cores}`;
}

/** One line: "AMD EPYC 7B13, 2 cores, Linux 6.1.0, 24 GiB RAM". */
export function describeMachineInfo(m: MachineInfo): string {
  const gib = m.memoryBytes / 1024 ** 3;
  return `${m.cpu}, ${m.cores} core${m.cores === 1 ? "" : "s"}, ${m.kernel}, ${gib.toFixed(gib < 10 ? 1 : 0)} GiB RAM`;
}
