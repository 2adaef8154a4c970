/**
 * Every allocator's malloc/free/realloc as bun:ffi functions with the same signatures, so that a benchmark
 * comparing them pays the same FFI cost for each and the difference is the allocator's.
 *
 * hakmem is called through its raw hak_malloc/hak_free/hak_realloc (no validation); glibc through libc.so.6;
 * the peers through their own entry points (mi_*, tc_*, and jemalloc's unprefixed malloc from its own handle).
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { discoverPeers, HAKMEM_FFI, type MissingPeer } from "./allocators.ts";

export interface FfiAllocator {
  /** glibc, hakmem, mimalloc, jemalloc, tcmalloc */
  name: string;
  /** The library it was loaded from. */
  library: string;
  /** The C functions behind malloc/free/realloc, for legends. */
  functions: string;
  malloc: (size: number) => Pointer | null;
  free: (ptr: Pointer | null) => void;
  realloc: (ptr: Pointer | null, size: number) => Pointer | null;
}

export interface SkippedAllocator {
  name: string;
  reason: string;
}

function load(name: string, library: string, m: string, f: string, r: string): FfiAllocator {
  const lib = dlopen(library, {
    [m]: { args: [FFIType.u64], returns: FFIType.ptr },
    [f]: { args: [FFIType.ptr], returns: FFIType.void },
    [r]: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.ptr },
  });
  // The bound functions themselves, not wrappers: the call in a benchmark is the FFI call.
  const symbols = lib.symbols as unknown as Record<string, (...args: unknown[]) => unknown>;
  return {
    name,
    library,
    functions: `${m}/${f}/${r}`,
    malloc: symbols[m] as FfiAllocator["malloc"],
    free: symbols[f] as FfiAllocator["free"],
    realloc: symbols[r] as FfiAllocator["realloc"],
  };
}

/**
 * hakmem, glibc and every installed peer, in that order. A peer that is not installed, or that fails to load,
 * is in `skipped` with the reason (and the apt-get line when it is missing). hakmem and glibc failing to load
 * throws: without them there is nothing to compare.
 */
export function loadFfiAllocators(): { allocators: FfiAllocator[]; skipped: SkippedAllocator[] } {
  const allocators = [
    load("hakmem", HAKMEM_FFI, "hak_malloc", "hak_free", "hak_realloc"),
    load("glibc", "libc.so.6", "malloc", "free", "realloc"),
  ];
  const { found, missing } = discoverPeers();
  const skipped: SkippedAllocator[] = missing.map((m: MissingPeer) => ({ name: m.name, reason: m.reason }));
  for (const peer of found) {
    try {
      allocators.push(load(peer.name, peer.path, peer.symbols.malloc, peer.symbols.free, peer.symbols.realloc));
    } catch (error) {
      skipped.push({ name: peer.name, reason: `could not be loaded with dlopen: ${(error as Error).message}` });
    }
  }
  return { allocators, skipped };
}
