/**
 * Buffers whose life the application controls, on any runtime's {@link NativeHakmem}: `buffer()` and
 * `bufferUnsafe()` (freed by the garbage collector, or at once by `release()` / `using`), `view()` over a live block,
 * and arenas that free all their blocks and buffers in one call.
 *
 * Every buffer's bytes come from `hak_buffer_alloc` (csrc/buffer.c): a hakmem block that starts with a 16-byte
 * guard, so no address JavaScript can see is the start of a block and `free(ptr(buffer))` is refused by the C side
 * itself. Releasing detaches the ArrayBuffer (`ArrayBuffer.prototype.transfer(0)`), so that no view can reach the
 * freed memory, and gives the block back at once.
 *
 * @module
 */
import { checkSize, fail, hex, notLive, requireAddress } from "./checks.ts";
import type { NativeHakmem, Pointer } from "./types.ts";
import { HakmemError, MAX_SIZE } from "./errors.ts";

/** A buffer from `buffer()` / `bufferUnsafe()`: a Uint8Array that `using` releases at the end of its scope. */
export type HakmemBuffer = Uint8Array<ArrayBuffer> & Disposable;

export interface ArenaOptions {
  /**
   * Bytes of each chunk the arena carves its blocks from (default 65520: a 64 KiB hakmem block with its 16-byte
   * guard). A request larger than a quarter of it gets a chunk of its own.
   */
  chunkSize?: number;
}

/**
 * Many blocks and buffers freed together: the pattern of a request handler or a parser that makes thousands of
 * small objects and drops them at once. Blocks are carved from chunks (hakmem buffers) in JavaScript, with no call
 * into C per block; `dispose()` (or the end of a `using` scope) detaches every buffer the arena made and gives every
 * chunk back. Addresses from {@link Arena.alloc} must not be used after that. Not shared between threads.
 */
export interface Arena extends Disposable {
  /** `size` bytes (zeroed, 16-byte aligned) that live until the arena is disposed; `free()` refuses them. */
  alloc(size: number): Pointer;
  /** A zeroed Uint8Array of `size` bytes that lives until the arena is disposed, then is detached (length 0). */
  buffer(size: number): Uint8Array<ArrayBuffer>;
  /** Frees every block and buffer of the arena in one call; a second call does nothing. */
  dispose(): void;
  /** True once disposed. */
  readonly disposed: boolean;
  /** Bytes of hakmem memory the arena holds (its chunks). */
  readonly bytes: number;
  /** Chunks the arena holds. */
  readonly chunks: number;
}

/** The buffer functions of the bindings, built on one runtime's FFI layer. */
export interface Buffers {
  buffer(size: number): HakmemBuffer;
  bufferUnsafe(size: number): HakmemBuffer;
  release(buffer: ArrayBuffer | ArrayBufferView): void;
  view(ptr: Pointer, length: number): Uint8Array<ArrayBuffer>;
  arena(options?: ArenaOptions): Arena;
}

const DEFAULT_CHUNK = 65536 - 16;
const DISPOSE: typeof Symbol.dispose = Symbol.dispose;
const MIN_CHUNK = 256;

export function createBuffers(native: NativeHakmem): Buffers {
  /** ArrayBuffers this module detached: a second release of one is a double free. */
  const released = new WeakSet<ArrayBuffer>();
  /** ArrayBuffers of arena chunks: released only with their arena. */
  const arenaChunks = new WeakSet<ArrayBuffer>();

  function disposeBuffer(this: Uint8Array<ArrayBuffer>): void {
    // Idempotent, as `using` expects: released already, or transferred to another thread, leaves nothing to do.
    if (!this.buffer.detached) release(this);
  }

  /** Lent bytes as a Uint8Array, or OUT_OF_MEMORY / BAD_SIZE with nothing kept. */
  function lend(size: number, zeroed: boolean, fn: string): Uint8Array<ArrayBuffer> {
    const a = native.bufferAlloc(size, zeroed);
    if (!a) fail("OUT_OF_MEMORY", `${fn}(${size}): hakmem could not get ${size} bytes from the OS`);
    try {
      return native.lendBuffer(a, size);
    } catch (cause) {
      native.bufferFree(a);
      throw new HakmemError("BAD_SIZE", `${fn}(${size}): the runtime cannot make an ArrayBuffer of ${size} bytes`, { cause });
    }
  }

  // The fast path: a positive int32 size (every runtime makes an ArrayBuffer that large), one call into C
  // (bun:ffi's cheapest argument conversion; `native.bufferAllocI32` is read at each call, see NativeHakmem), the
  // runtime's own wrapping; no try/catch. Anything else takes lend() and its clean-up, or the size's error.
  function make(size: number, zeroed: 0 | 1, fn: string): HakmemBuffer {
    if (typeof size === "number" && (size | 0) === size && size > 0) {
      const a = native.bufferAllocI32(size, zeroed);
      if (a) {
        const b = native.lendBuffer(a, size) as HakmemBuffer;
        b[DISPOSE] = disposeBuffer;
        return b;
      }
    }
    const b = (checkSize(size, `${fn}: size`) === 0 ? new Uint8Array(0) : lend(size, zeroed === 1, fn)) as HakmemBuffer;
    b[DISPOSE] = disposeBuffer;
    return b;
  }

  const buffer = (size: number): HakmemBuffer => make(size, 1, "buffer");
  const bufferUnsafe = (size: number): HakmemBuffer => make(size, 0, "bufferUnsafe");

  function release(data: ArrayBuffer | ArrayBufferView): void {
    let ab: ArrayBuffer;
    let whole: boolean;
    if (data instanceof ArrayBuffer) {
      ab = data;
      whole = true;
    } else if (ArrayBuffer.isView(data) && data.buffer instanceof ArrayBuffer) {
      ab = data.buffer;
      whole = ab.detached || (data.byteOffset === 0 && data.byteLength === ab.byteLength);
    } else {
      return fail("FOREIGN_POINTER", "release(): expected a buffer from buffer() (a Uint8Array) or its ArrayBuffer");
    }
    if (ab.detached) {
      if (released.has(ab)) fail("DOUBLE_FREE", "release(): the buffer was already released");
      fail("FOREIGN_POINTER", "release(): the buffer is detached (transferred to another thread, or by transfer()): its memory is not this thread's to give back");
    }
    if (arenaChunks.has(ab)) fail("FOREIGN_POINTER", "release(): the buffer belongs to an arena: arena.dispose() gives it back");
    if (!whole) {
      const v = data as ArrayBufferView;
      fail("FOREIGN_POINTER", `release(): a view of part of a buffer (bytes ${v.byteOffset} to ${v.byteOffset + v.byteLength} of ${ab.byteLength}): release the whole buffer`);
    }
    if (ab.byteLength !== 0) {
      const a = native.dataAddress(ab);
      if (native.bufferSize(a) !== ab.byteLength) {
        fail("FOREIGN_POINTER", `release(): the ArrayBuffer at ${hex(a)} (${ab.byteLength} bytes) was not made by buffer() or bufferUnsafe()`);
      }
      native.unlendBuffer(ab, a);
    } else {
      ab.transfer(0); // buffer(0) holds no memory; detach it all the same, so that release means the same for every size
    }
    released.add(ab);
  }

  function view(ptr: Pointer, length: number): Uint8Array<ArrayBuffer> {
    const a = requireAddress(ptr, "view");
    const n = checkSize(length, "view: length");
    const usable = native.usableSize(a);
    if (usable === 0) throw notLive("view", a, native.blockState(a), false);
    if (n > usable) fail("BAD_SIZE", `view(${hex(a)}, ${n}): past the block's end: it has ${usable} usable bytes`);
    return n === 0 ? new Uint8Array(0) : native.borrowView(a, n);
  }

  class HakmemArena implements Arena {
    readonly #chunkSize: number;
    /** Every chunk's ArrayBuffer and address, in the order made. */
    readonly #buffers: ArrayBuffer[] = [];
    readonly #addresses: number[] = [];
    /** The chunk small requests are carved from: index into the lists above, -1 before the first. */
    #current = -1;
    #used = 0;
    #bytes = 0;
    #disposed = false;
    /** Where the last #place() put its bytes. */
    #chunk = 0;

    constructor(chunkSize: number) {
      this.#chunkSize = chunkSize;
    }

    get disposed(): boolean {
      return this.#disposed;
    }
    get bytes(): number {
      return this.#bytes;
    }
    get chunks(): number {
      return this.#buffers.length;
    }

    /** Places `size` bytes (> 0) in a chunk: sets #chunk, returns the offset. */
    #place(size: number, fn: string): number {
      if (this.#disposed) fail("DISPOSED", `arena.${fn}(${size}): the arena was disposed`);
      const need = size <= 16 ? 16 : Math.ceil(size / 16) * 16;
      if (need > this.#chunkSize / 4) {
        this.#chunk = this.#newChunk(need, fn);
        return 0;
      }
      if (this.#current < 0 || this.#used + need > this.#chunkSize) {
        this.#current = this.#newChunk(this.#chunkSize, fn);
        this.#used = 0;
      }
      const offset = this.#used;
      this.#used += need;
      this.#chunk = this.#current;
      return offset;
    }

    #newChunk(size: number, fn: string): number {
      const bytes = lend(size, true, `arena.${fn}`);
      arenaChunks.add(bytes.buffer);
      this.#buffers.push(bytes.buffer);
      this.#addresses.push(native.dataAddress(bytes.buffer));
      this.#bytes += size;
      return this.#buffers.length - 1;
    }

    alloc(size: number): Pointer {
      const n = checkSize(size, "arena.alloc: size");
      const offset = this.#place(n, "alloc");
      return (this.#addresses[this.#chunk]! + offset) as Pointer;
    }

    buffer(size: number): Uint8Array<ArrayBuffer> {
      const n = checkSize(size, "arena.buffer: size");
      if (n === 0) {
        if (this.#disposed) fail("DISPOSED", "arena.buffer(0): the arena was disposed");
        return new Uint8Array(0);
      }
      const offset = this.#place(n, "buffer");
      return new Uint8Array(this.#buffers[this.#chunk]!, offset, n);
    }

    dispose(): void {
      if (this.#disposed) return;
      this.#disposed = true;
      for (let i = 0; i < this.#buffers.length; i++) {
        const ab = this.#buffers[i]!;
        native.unlendBuffer(ab, this.#addresses[i]!);
        released.add(ab);
      }
      this.#buffers.length = 0;
      this.#addresses.length = 0;
      this.#bytes = 0;
      this.#current = -1;
    }

    [Symbol.dispose](): void {
      this.dispose();
    }
  }

  function arena(options: ArenaOptions = {}): Arena {
    if (typeof options !== "object" || options === null) fail("BAD_CONFIG", "arena(options): options must be an object");
    const chunkSize = options.chunkSize === undefined ? DEFAULT_CHUNK : checkSize(options.chunkSize, "arena: chunkSize");
    if (chunkSize < MIN_CHUNK) fail("BAD_SIZE", `arena: chunkSize is under the minimum ${MIN_CHUNK} (${chunkSize})`);
    return new HakmemArena(chunkSize);
  }

  return { buffer, bufferUnsafe, release, view, arena };
}
