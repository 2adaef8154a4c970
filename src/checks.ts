/**
 * Argument checks and error messages shared by the bindings (src/core.ts) and the buffers (src/buffers.ts). The
 * fast paths test their arguments inline; these run when a test fails, to say exactly why.
 *
 * @module
 */
import { HakmemError, MAX_SIZE } from "./errors.ts";

/** `enum hak_result` of csrc/include/hakmem.h. */
export const HAK_OK = 0;
export const HAK_E_UNKNOWN_FLAG = -1;
export const HAK_E_BAD_VALUE = -2;
export const HAK_E_LOCKED = -3;
export const HAK_E_FOREIGN = -4;
export const HAK_E_DOUBLE_FREE = -5;
export const HAK_E_NOMEM = -6;

/** `enum hak_block_kind` of csrc/include/hakmem.h: what `hak_block_state()` says about an address. */
export const HAK_BLOCK_FOREIGN = 0;
export const HAK_BLOCK_LIVE = 1;
export const HAK_BLOCK_FREE = 2;
export const HAK_BLOCK_INTERIOR = 3;

export function describeValue(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  return value === null ? "null" : typeof value;
}

/** The fast paths' test of a size or count (checkSize says why one fails). */
export function isSize(value: unknown, max: number): value is number {
  return typeof value === "number" && value >= 0 && value <= max && Math.floor(value) === value;
}

/** Validates a size or count; returns it as an integer number. */
export function checkSize(value: unknown, what: string, max = MAX_SIZE): number {
  if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max) return value;
  let why: string;
  if (typeof value !== "number") why = `is not a number (${describeValue(value)})`;
  else if (Number.isNaN(value)) why = "is NaN";
  else if (!Number.isFinite(value)) why = `is ${value}`;
  else if (value < 0) why = `is negative (${value})`;
  else if (!Number.isInteger(value)) why = `is not an integer (${value})`;
  else why = `is over the maximum ${max} (${value})`;
  return fail("BAD_SIZE", `${what} ${why}`);
}

export function fail(code: HakmemError["code"], message: string): never {
  throw new HakmemError(code, message);
}

/** Converts a pointer-like value to an address number; 0 for null/undefined; -1 when it is not an address. */
export function addressOf(ptr: unknown): number {
  if (ptr === null || ptr === undefined) return 0;
  if (typeof ptr === "number") return Number.isSafeInteger(ptr) && ptr >= 0 ? ptr : -1;
  if (typeof ptr === "bigint") return ptr >= 0n && ptr <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ptr) : -1;
  return -1;
}

export function hex(address: number): string {
  return `0x${address.toString(16)}`;
}

/** A valid non-null address, or FOREIGN_POINTER. */
export function requireAddress(ptr: unknown, fn: string): number {
  const a = addressOf(ptr);
  if (a === 0) fail("FOREIGN_POINTER", `${fn}(${ptr === undefined ? "undefined" : "null"}): a null pointer is not a hakmem block`);
  if (a < 0) fail("FOREIGN_POINTER", `${fn}(${describeValue(ptr)}): not an address`);
  return a;
}

/** The error for an address whose block state is not LIVE. */
export function notLive(fn: string, a: number, state: number, freeIsDouble: boolean, suffix = ""): HakmemError {
  if (state === HAK_BLOCK_FREE) {
    return freeIsDouble
      ? new HakmemError("DOUBLE_FREE", `${fn}(${hex(a)}): the block is already free${suffix}`)
      : new HakmemError("FOREIGN_POINTER", `${fn}(${hex(a)}): the block is free, not live${suffix}`);
  }
  if (state === HAK_BLOCK_INTERIOR)
    return new HakmemError("FOREIGN_POINTER", `${fn}(${hex(a)}): the address points inside a hakmem block, not at its start${suffix}`);
  return new HakmemError("FOREIGN_POINTER", `${fn}(${hex(a)}): the address was not allocated by hakmem${suffix}`);
}
