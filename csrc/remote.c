/* Frees into slabs of other threads' heaps (remote frees): two ways.
 *
 * Per slab (HAKMEM_REMOTE_BATCH off, libhakmem.so's default): each slab has
 * an atomic list other threads push single blocks to and its owner takes
 * whole (hk_slab_collect). Every free is visible to any thread at once, which
 * hak_owns and hak_free_checked in other threads rely on. But each free is an
 * atomic read-modify-write of a line shared with the owner and every other
 * freeing thread: at a high rate of remote frees (a producer/consumer, a
 * server handing work between threads) that is most of the cost, and the
 * owner walks every list it collects to count it.
 *
 * In batches to the owner heap (HAKMEM_REMOTE_BATCH on, the LD_PRELOAD
 * library's default): as snmalloc sends remote frees to their owner as
 * messages, the freeing thread gathers them per destination heap and size
 * class, in a small table of its own heap (batch_for), as a message holding
 * the blocks' addresses (any slab of that heap). A message is sent in one
 * atomic step onto the destination heap's inbox when it holds as many
 * blocks as their size allows (batch_limit), when its table entry is
 * needed for another, and when the thread needs a new slab, trims or exits.
 * A thread freeing blocks scattered over many slabs of one owner (a server's
 * working set) still sends one message per batch, where per-slab lists would
 * need one atomic per slab touched. Nothing is written into the blocks: a
 * chain linked through them (this file's first design) made the freeing
 * thread take each block's cache line from the owner's core, and the owner
 * take it back to use the block again; a server freeing the blocks another
 * thread handed it without reading them (larson, bench_server_handoff) paid
 * both on every such free. The owner takes its inbox whole on its slow paths
 * (heap.c): a message's blocks go onto its thread cache when there is room,
 * else each onto its slab's local list (slab metadata is only ever written by
 * its owner), and the message goes back to the pool of the heap that sent it.
 * A heap's messages are made once (hk_meta_alloc) and reused: as many as it
 * ever had in flight at once.
 *
 * Invariants (batches):
 *  - A block gathered, in an inbox or in its owner's thread cache still
 *    counts as used in its slab until it is back on the slab's list, so the
 *    slab cannot be released or reformatted meanwhile, and its owner (a
 *    heap, never unmapped) does not change.
 *  - At most HK_REMOTE_SLOTS messages of at most HK_BATCH_BLOCKS blocks and
 *    HK_BATCH_HELD bytes (plus one block) are filled per thread.
 *  - Blocks a thread keeps for its own reuse (its thread cache, heap.c) are
 *    not remote frees until they are given back (hk_remote_give_back).
 *  - The statistics count a remote free when it happens (heap.c), so
 *    bytes_in_use does not depend on when a message is sent or taken.
 *  - Gathered and sent blocks are on no list a walk of their slab sees:
 *    hak_owns and hak_free_checked take them for live until they are back on
 *    it. Hence off for libhakmem.so and in check and secure modes. */
#include "internal.h"

/* Messages a heap may have made (never freed: 576 bytes each, 2.3 MiB at
 * most, made as they are needed): when all are out, on inboxes of owners
 * that have not taken them (an owner that allocates nothing more), its
 * remote frees go onto their slabs' remote lists, a chain a slab
 * (chain_add), which costs no memory but has the owner walk each chain
 * through the blocks. Two producers and two consumers on 2 cores
 * (xmalloc-test), where a consumer frees a whole time slice's worth while
 * its producer waits: 512 messages, the chains' walk 9% of the samples,
 * rtime 1.61; 2048: 1.50; 4096: 1.48 (mimalloc 1.51), peak RSS 39.4 ->
 * 40.3 MB. */
#define HK_REMOTE_MSGS_MAX 4096
/* A message is sent when its blocks reach HK_BATCH_HELD bytes (the last
 * may pass it) or number HK_BATCH_BLOCKS: 64 blocks up to 256 bytes, 16 KiB
 * of blocks from there, one block above 8 KiB. What a thread
 * gathers for other heaps is memory neither can use meanwhile, in a message
 * being filled for each class and owner:
 *  - bench_remote_free (16 to 1039 bytes) peaked at 3.0 MiB at 64 blocks
 *    whatever their size, 2.5 at 16 KiB (mimalloc 2.4). Sixteen blocks
 *    whatever their size held as little, but small blocks went 4 times as
 *    many messages: bench_producer_consumer (16 to 256 bytes) executed 7%
 *    more instructions (146 -> 157 a block passed).
 *  - Larger blocks went at least 16 to a message and up to 64 KiB of them
 *    (the cost of a message against that of a block of some KiB):
 *    bench_pass_random's two threads (16 B to 16 KiB) held about 2 MB in
 *    messages and peaked at 10.7-11.7 MB against 9.7-10.0 at 16 KiB
 *    (mimalloc 8.3-10.2); bench_remote_free of 16 B to 64 KiB peaked at
 *    10.8-15.9 MB against 4.2-5.9 (mimalloc 7.1-9.0), at the same 12 M ops/s
 *    (mimalloc 6): each block back sooner is one its owner reuses instead
 *    of a fresh one.
 * The number of blocks is worked out when a message is started, so adding a
 * block is a count and a compare (a running weight took 6 instructions of
 * every remote free). */
#define HK_BATCH_HELD (16u << 10)
static uint32_t batch_limit(uint32_t block_size) {
  uint32_t n = (HK_BATCH_HELD + block_size - 1) / block_size;
  return n < HK_BATCH_BLOCKS ? n : HK_BATCH_BLOCKS;
}

/* A batch key: the destination heap's address with the class in its low bits. */
#define BATCH_CLASS_BITS ((uintptr_t)127)
static hk_heap *batch_heap(uintptr_t key) { return (hk_heap *)(key & ~BATCH_CLASS_BITS); }

/* Pushes the chain first..last (linked through next) onto an atomic list of
 * messages ending in NULL. */
static void push_msgs(_Atomic(hk_remote_msg *) *list, hk_remote_msg *first, hk_remote_msg *last) {
  hk_remote_msg *old = atomic_load_explicit(list, memory_order_relaxed);
  do {
    last->next = old;
  } while (!atomic_compare_exchange_weak_explicit(list, &old, first, memory_order_release, memory_order_relaxed));
}

/* An empty message of h's: its pool, else those its receivers gave back,
 * else a new one, up to HK_REMOTE_MSGS_MAX; NULL when none can be had. */
static hk_remote_msg *msg_take(hk_heap *h) {
  hk_remote_msg *m = h->msg_pool;
  if (!m && atomic_load_explicit(&h->msgs_returned, memory_order_relaxed))
    m = atomic_exchange_explicit(&h->msgs_returned, NULL, memory_order_acquire);
  if (m) {
    h->msg_pool = m->next;
  } else {
    if (h->msgs_made == HK_REMOTE_MSGS_MAX || !(m = hk_meta_alloc(sizeof *m))) return NULL;
    h->msgs_made++;
    m->home = h;
  }
  m->count = 0;
  return m;
}

/* A run of messages from one home goes back in one step: each message took
 * a compare-and-swap on a line its home thread also writes
 * (bench_server_handoff: giving messages back 1.7% of the samples, one
 * message per 64 remote frees; 0.3% a run at a time). */
void hk_remote_msgs_done(hk_heap *h, hk_remote_msg *m) {
  while (m) {
    hk_heap *home = m->home;
    hk_remote_msg *last = m;
    while (last->next && last->next->home == home) last = last->next;
    hk_remote_msg *rest = last->next;
    if (home == h) {
      last->next = h->msg_pool;
      h->msg_pool = m;
    } else {
      push_msgs(&home->msgs_returned, m, last);
    }
    m = rest;
  }
}

static void send_batch(hk_remote_batch *rb) {
  hk_remote_msg *m = rb->msg;
  if (!m) return;
  m->cls = (uint32_t)(rb->key & BATCH_CLASS_BITS);
  push_msgs(&batch_heap(rb->key)->inbox, m, m);
  rb->msg = NULL;
}

_Static_assert(_Alignof(hk_heap) > BATCH_CLASS_BITS && HK_NCLASSES <= BATCH_CLASS_BITS + 1,
               "a batch key holds the heap address and a class");
static uintptr_t batch_key(const hk_heap *to, unsigned c) { return (uintptr_t)to | c; }

/* One slot per (heap, class): the classes of one heap take consecutive
 * slots, so they collide only 64 classes apart. */
static hk_remote_batch *batch_for(hk_heap *h, const hk_heap *to, unsigned c) {
  uint64_t hash = (uintptr_t)to * 0x9E3779B97F4A7C15ull;
  return &h->remote_batch[((hash >> 58) + c) & (HK_REMOTE_SLOTS - 1)];
}
_Static_assert(HK_REMOTE_SLOTS == 64, "batch_for takes the top 6 bits");

/* Adds b to rb's message (which has room); true when the message is due to be sent. */
static inline bool add_block(hk_remote_batch *rb, hk_block *b) {
  hk_remote_msg *m = rb->msg;
  m->blocks[m->count++] = b;
  return m->count >= rb->limit;
}

/* Whether b is the block gathered last in rb (freed twice in a row). */
static inline bool gathered_last(const hk_remote_batch *rb, const hk_block *b) {
  return rb->msg && rb->msg->blocks[rb->msg->count - 1] == b;
}

/* Pushes the chain first..last (linked through the blocks) onto s's remote
 * list; false, pushing nothing, when first is the list's top (freed twice in
 * a row). */
static bool push_remote_chain(hk_slab *s, hk_block *first, hk_block *last) {
  hk_heap *owner = s->owner; /* read while the blocks still count as used: s keeps its owner */
  hk_block *old = atomic_load_explicit(&s->remote, memory_order_relaxed);
  do {
    if (HK_UNLIKELY(old == first)) return false;
    hk_set_next(last, old);
  } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, first, memory_order_release, memory_order_relaxed));
  /* the list's first blocks: the owner's walks of its full slabs may find them (heaps are never unmapped) */
  if (old == NULL) atomic_store_explicit(&owner->remote_pending, 1, memory_order_relaxed);
  return true;
}

/* Sends h's chain (if any) onto its slab's remote list. Its head found on
 * top of that list was pushed there by another thread's free of it while it
 * waited here (chain_add refuses a block already on top): reported, and the
 * rest goes, from the second block, which that push did not overwrite. */
static void chain_send(hk_heap *h) {
  hk_slab *s = h->chain_slab;
  if (!s) return;
  h->chain_slab = NULL;
  hk_block *first = h->chain_first;
  if (HK_LIKELY(push_remote_chain(s, first, h->chain_last))) return;
  hk_report_invalid_free(first, HAK_BLOCK_FREE);
  if (first != h->chain_last) (void)push_remote_chain(s, h->chain_second, h->chain_last);
}

/* Chains b, of (head) slab s, for its owner while h has no message to
 * gather it in (all HK_REMOTE_MSGS_MAX of them out, on the inboxes of
 * owners that have not taken them yet: a producer that sleeps while its
 * consumers free, xmalloc-test's 4 threads on 2 cores). A chain holds one
 * slab's blocks and goes onto that slab's remote list in one step when a
 * block of another slab comes, when it is as full as a message would be,
 * or with the messages: frees in allocation order (a consumer freeing what a
 * producer built) take one compare-and-swap a chain, where each such free
 * took one (a tenth of xmalloc-test's frees). False: b was freed twice in
 * a row (reported). */
static bool chain_add(hk_heap *h, hk_slab *s, hk_block *b) {
  /* a block on top of its slab's remote list (pushed last), or chained last,
   * freed again: linking it would cut that list or loop this chain */
  if (HK_UNLIKELY(b == atomic_load_explicit(&s->remote, memory_order_relaxed) ||
                  (h->chain_slab == s && b == h->chain_first))) {
    hk_report_invalid_free(b, HAK_BLOCK_FREE);
    return false;
  }
  if (h->chain_slab != s) {
    chain_send(h);
    h->chain_slab = s;
    h->chain_first = h->chain_last = b;
    h->chain_count = 1;
    h->chain_limit = batch_limit(s->block_size);
    return true;
  }
  hk_set_next(b, h->chain_first);
  h->chain_second = h->chain_first;
  h->chain_first = b;
  if (++h->chain_count >= h->chain_limit) chain_send(h);
  return true;
}

/* Gathers b, of (head) slab s, for s's owner heap `to`; false when b was
 * the last block gathered (freed twice in a row, reported). Without a
 * message to put it in, b is chained for its slab (chain_add). */
static bool gather(hk_heap *h, hk_slab *s, hk_heap *to, uint32_t block_size, hk_block *b) {
  hk_remote_batch *rb = batch_for(h, to, s->cls);
  uintptr_t key = batch_key(to, s->cls);
  if (rb->key != key) {
    send_batch(rb);
    rb->key = key;
  } else if (HK_UNLIKELY(gathered_last(rb, b))) {
    hk_report_invalid_free(b, HAK_BLOCK_FREE);
    return false;
  }
  if (!rb->msg) {
    if (HK_UNLIKELY(!(rb->msg = msg_take(h)))) return chain_add(h, s, b);
    rb->limit = batch_limit(block_size);
    h->remote_slots_used |= 1ull << (rb - h->remote_batch);
  }
  if (add_block(rb, b)) send_batch(rb);
  return true;
}

/* Pushes b alone onto its slab's remote list; false when b is the block
 * pushed last (freed twice in a row from other threads). */
bool hk_remote_push(hk_slab *s, hk_block *b) {
  if (HK_LIKELY(push_remote_chain(s, b, b))) return true;
  hk_report_invalid_free(b, HAK_BLOCK_FREE);
  return false;
}

/* The rest of a batched remote free of b, of slab s, into heap `to` whose
 * message in this thread's table is rb, out of line: the message has to be
 * sent, or rb holds another heap's or none. */
static HK_NOINLINE void free_batched_rare(hk_heap *h, hk_remote_batch *rb, hk_heap *to, hk_slab *s, hk_block *b) {
  unsigned c = s->cls; /* read first: b pushed onto its slab's list (no message) lets the owner release s */
  if (rb->key != batch_key(to, c) || !rb->msg) { /* b is not gathered yet (so s, whose block it is, is still formatted) */
    if (!gather(h, s, to, s->block_size, b)) return;
    h->remote_frees++;
    h->nfree[c]++;
  } else if (rb->msg->count >= rb->limit) {
    send_batch(rb);
  }
}

/* The whole batched remote free: gather b for its owner, then count it. A
 * leaf whose rare cases are tail calls: it is most of a remote free's
 * instructions. */
void hk_remote_free_batched(hk_heap *h, hk_slab *s, hk_block *b) {
  unsigned c = s->cls;
  hk_heap *to = s->owner; /* heaps are never unmapped: safe to read after b is sent */
  if (HK_UNLIKELY(!to)) { /* the slab was released meanwhile: b was not live */
    hk_report_invalid_free(b, HAK_BLOCK_FREE);
    return;
  }
  hk_remote_batch *rb = batch_for(h, to, c);
  if (HK_UNLIKELY(rb->key != batch_key(to, c) || !rb->msg)) {
    free_batched_rare(h, rb, to, s, b);
    return;
  }
  if (HK_UNLIKELY(gathered_last(rb, b))) {
    hk_report_invalid_free(b, HAK_BLOCK_FREE); /* freed twice in a row */
    return;
  }
  bool due = add_block(rb, b);
  h->remote_frees++;
  h->nfree[c]++;
  if (HK_UNLIKELY(due)) free_batched_rare(h, rb, to, s, b);
}

void hk_remote_give_back(hk_heap *h, hk_slab *s, hk_block *b) {
  if (g_hk.remote_batch) (void)gather(h, s, s->owner, s->block_size, b);
  else (void)hk_remote_push(s, b);
}

void hk_remote_send_batches(hk_heap *h) {
  for (uint64_t used = h->remote_slots_used; used; used &= used - 1)
    send_batch(&h->remote_batch[__builtin_ctzll(used)]);
  h->remote_slots_used = 0;
  chain_send(h);
}

void hk_remote_flush(hk_heap *h) {
  if (h != &hk_empty_heap) hk_remote_send_batches(h);
}

void hk_inbox_put_back(hk_heap *h, hk_remote_msg *first, hk_remote_msg *last) { push_msgs(&h->inbox, first, last); }

hk_remote_msg *hk_inbox_take(hk_heap *h) {
  if (!atomic_load_explicit(&h->inbox, memory_order_relaxed)) return NULL;
  return atomic_exchange_explicit(&h->inbox, NULL, memory_order_acquire);
}
