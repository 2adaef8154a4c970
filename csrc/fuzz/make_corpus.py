#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_alloc (csrc/fuzz/corpus/): a few small
inputs that between them reach every operation and every size tier, so the
fuzzer starts from inputs that already do something. The encoding follows
csrc/fuzz/fuzz_alloc.c: one opcode byte, then the operation's arguments.

    python3 csrc/fuzz/make_corpus.py      # rewrites csrc/fuzz/corpus/*
"""
import os

OP = dict(MALLOC=0, FREE=1, REALLOC=2, ALIGNED=3, CALLOC=4, QUERY=5, BATCH_ALLOC=6, BATCH_FREE=7,
          STALE=8, REMOTE_FREE=9, FOREIGN_ALLOC=10, TRIM=11, FREE_CHECKED=12, PROBE=13, ABSURD=14)


def size(mode, r):  # read_size: a mode byte, then a 16-bit value
    return bytes([mode, r & 255, r >> 8])


def tiny(n): return size(0, n)        # r % 129
def small(n): return size(6, n)       # r % 1025
def upto8k(n): return size(9, n)      # r % 8193
def mid(n): return size(11, n)        # r % 65537
def large(r): return size(13, r)      # 65536 + r * 61
def boundary(i): return size(14, i)   # boundary_sizes[i]
def u16(v): return bytes([v & 255, v >> 8])
def u32(v): return bytes([v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >> 24) & 255])


def op(name, *args):
    out = bytes([OP[name]])
    for a in args:
        out += a if isinstance(a, bytes) else bytes([a])
    return out


SEEDS = {
    # malloc, query, realloc up and down, free, stale pointers
    "basic": op("MALLOC", 0, tiny(24)) + op("QUERY", 0, u32(7)) + op("MALLOC", 1, small(700)) +
    op("REALLOC", 0, small(900)) + op("REALLOC", 1, tiny(5)) + op("FREE", 0) + op("STALE", 0) +
    op("FREE", 1) + op("STALE", 1) + op("QUERY", 1, u32(0)),
    # every tier and the class boundaries
    "tiers": b"".join(op("MALLOC", i, boundary(i * 3)) for i in range(19)) +
    op("MALLOC", 30, large(1000)) + op("MALLOC", 31, large(60000)) + op("MALLOC", 32, upto8k(5000)) +
    b"".join(op("QUERY", i, u32(i * 977)) for i in (0, 5, 12, 18, 30, 31, 32)) +
    op("REALLOC", 30, large(20000)) + op("REALLOC", 31, mid(300)) + op("TRIM") +
    b"".join(op("FREE", i) for i in range(19)) + op("FREE", 30) + op("FREE", 31) + op("STALE", 3),
    # aligned_alloc over every alignment, and refused alignments
    "aligned": b"".join(op("ALIGNED", i, a, small(100 + a)) for i, a in enumerate(range(0, 23))) +
    op("ALIGNED", 40, 0xE1, small(10)) + op("ALIGNED", 41, 0xE2, small(10)) +
    b"".join(op("QUERY", i, u32(3)) for i in range(23)) + b"".join(op("FREE", i) for i in range(0, 23, 2)),
    # calloc (zeroed, also over a reused block) and absurd requests
    "calloc": op("MALLOC", 2, small(512)) + op("FREE", 2) + op("CALLOC", 2, 8, tiny(64)) +
    op("CALLOC", 3, 0, tiny(10)) + op("CALLOC", 4, 3, large(5000)) + op("CALLOC", 5, 64, mid(65000)) +
    b"".join(op("ABSURD", k) for k in (0, 9, 17, 26, 35, 0x84, 0x8c, 2)) + op("QUERY", 4, u32(99)),
    # batches, checked frees, probes around blocks
    "batch": op("BATCH_ALLOC", 10, 15, tiny(48)) + op("BATCH_ALLOC", 40, 4, mid(30000)) +
    op("PROBE", 12, u32(48), 0) + op("PROBE", 12, u32(0xFFFFFFF0), 0) + op("PROBE", 40, u32(30000), 1) +
    op("BATCH_FREE", 10, 8, u16(0x0505)) + op("FREE_CHECKED", 20) + op("FREE_CHECKED", 41) +
    op("STALE", 0) + op("STALE", 1) + op("STALE", 2) + op("BATCH_FREE", 18, 15, u16(0)),
    # other threads: remote frees, blocks of exited threads, trims in between
    "threads": op("MALLOC", 0, small(100)) + op("MALLOC", 1, mid(20000)) + op("MALLOC", 2, large(100)) +
    op("REMOTE_FREE", 0) + op("STALE", 0) + op("FOREIGN_ALLOC", 5, small(200)) +
    op("FOREIGN_ALLOC", 6, mid(40000)) + op("QUERY", 5, u32(1)) + op("REMOTE_FREE", 1) +
    op("TRIM") + op("FREE", 5) + op("STALE", 1) + op("REMOTE_FREE", 2) + op("FOREIGN_ALLOC", 7, tiny(16)) +
    op("TRIM") + op("REMOTE_FREE", 6) + op("QUERY", 7, u32(2)),
}

if __name__ == "__main__":
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out_dir, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")
