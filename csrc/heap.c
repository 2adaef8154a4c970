/* Thread heaps. Each thread allocates from its own heap: per size class a list
 * of available slabs (the head is `current`, which the fast path pops from)
 * and a list of full slabs. A heap owns whole SuperSlabs, so slab acquisition
 * touches no shared state until a SuperSlab is needed (once per ss_size bytes).
 *
 * Invariants:
 *  - current[c] == avail[c].head, or &hk_empty_slab when that list is empty
 *    (or in check modes, or while the heap holds blocks for c: sync_current).
 *  - slab->used is exact: blocks handed out minus blocks back on the local
 *    free list. Blocks in a thread cache (any heap's), held from the inbox
 *    (h->held) and remote frees count as used until they come back, so a
 *    slab with used == 0 has no block anywhere in flight and may be released.
 *  - h->held holds blocks of one class (held_cls), at most HELD_MAX_BLOCKS
 *    and HELD_MAX_BYTES, until the cache takes them, the next slow path of
 *    another class or collect_all.
 *  - The thread cache (h->tc, see hk_heap) holds at most tc_limit[c] blocks
 *    a class: 64 blocks and 32 KiB at first (at least one block), growing
 *    on overflow to at most 512 blocks and 1 MiB, to no more than the
 *    blocks of the class the heap ever allocated and those in use in
 *    its slabs, while the heap's bounds grew by no more than 4 MiB in all,
 *    less with more than 4 threads live (tc_grow). It is emptied, and its
 *    bounds put back, by tc_flush whenever the heap collects everything
 *    (collect_all).
 *  - The cache counts its frees (tc_pushes) and not its allocations: pops =
 *    tc_pushes - tc_push_base - held (hk_tc_pops). So blocks that enter or
 *    leave it other than by a push or a pop move tc_push_base with them
 *    (take_inbox, tc_flush), and so does a change of its bound (held is
 *    the bound less the room).
 *  - An empty slab goes back to its SuperSlab at once, usable by any class,
 *    except a class's current slab, which stays (so a class hovering around
 *    zero live blocks does not thrash, and the free fast path needs no call):
 *    at most one empty slab per class, released as soon as another class
 *    needs a slab, or by hak_trim. Besides, a class may keep up to
 *    HK_SPARE_SLABS other emptied slabs (by local frees or blocks taken from
 *    the inbox) as spares on its available list (keep_spare, h->spare[c]),
 *    until collect_all (before the heap takes a SuperSlab, trim, exit).
 *  - A SuperSlab whose slabs are all free leaves the heap for the LRU cache.
 *  - Heaps are never unmapped: a thread that exits abandons its heap, and the
 *    next new thread adopts it with everything in it.
 *  - A thread past its heap's exit destructor (other pthread_key destructors
 *    may still allocate) allocates from the one shared exit heap, under a
 *    lock, so no heap is made that no destructor would ever abandon. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static pthread_mutex_t heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static hk_heap *heaps_all, *heaps_abandoned;
static pthread_key_t heap_key;   /* its destructor abandons the heap; made by the first heap */
static bool heap_key_made;
/* Set when this thread's heap was abandoned at exit: frees from later exit
 * destructors push at once rather than make a heap again. */
static __thread uint8_t tl_heap_exited;

/* The exit heap: allocations of threads whose heap was already abandoned.
 * Taken before heaps_lock where both are held. */
static pthread_mutex_t exit_heap_lock = PTHREAD_MUTEX_INITIALIZER;
static hk_heap *exit_heap;

#define FULL_SCAN_LIMIT 4 /* full slabs examined for remote frees per refill */

/* ---- intrusive lists ---------------------------------------------------------- */
static void list_remove(hk_slab_list *l, hk_slab *s) {
  if (s->prev) s->prev->next = s->next; else l->head = s->next;
  if (s->next) s->next->prev = s->prev; else l->tail = s->prev;
  s->next = s->prev = NULL;
}

static void list_push_head(hk_slab_list *l, hk_slab *s) {
  s->prev = NULL;
  s->next = l->head;
  if (l->head) l->head->prev = s; else l->tail = s;
  l->head = s;
}

static void list_push_tail(hk_slab_list *l, hk_slab *s) {
  s->next = NULL;
  s->prev = l->tail;
  if (l->tail) l->tail->next = s; else l->head = s;
  l->tail = s;
}

/* In secure and check modes current[] stays the empty sentinel, so every
 * allocation takes the slow path, which decodes and checks links (secure) and
 * clears the block's free mark (check); and so it does for a class the heap
 * holds blocks of the class above for (pool_take_above), which the slow path
 * hands out first. */
static hk_above_stash *above_stash_for(hk_heap *h, unsigned c);
static void sync_current(hk_heap *h, unsigned c) {
  bool slow = g_hk.free_checks || above_stash_for(h, c);
  h->current[c] = h->avail[c].head && !slow ? h->avail[c].head : &hk_empty_slab;
  HK_ASSERT(h->current[c] == &hk_empty_slab || (h->current[c]->owner == h && h->current[c]->cls == c && !h->current[c]->full),
            "current[c] is the head of avail[c] (a slab of h and class c, not full) or the empty slab");
}

static void ss_avail_push(hk_heap *h, hk_ss *ss) {
  ss->avail_prev = NULL;
  ss->avail_next = h->ss_avail;
  if (h->ss_avail) h->ss_avail->avail_prev = ss;
  h->ss_avail = ss;
  ss->in_avail = 1;
}

static void ss_avail_remove(hk_heap *h, hk_ss *ss) {
  if (ss->avail_prev) ss->avail_prev->avail_next = ss->avail_next; else h->ss_avail = ss->avail_next;
  if (ss->avail_next) ss->avail_next->avail_prev = ss->avail_prev;
  ss->avail_next = ss->avail_prev = NULL;
  ss->in_avail = 0;
}

static void ss_list_push(hk_heap *h, hk_ss *ss) {
  ss->prev = NULL;
  ss->next = h->ss_list;
  if (h->ss_list) h->ss_list->prev = ss;
  h->ss_list = ss;
}

static void ss_list_remove(hk_heap *h, hk_ss *ss) {
  if (ss->prev) ss->prev->next = ss->next; else h->ss_list = ss->next;
  if (ss->next) ss->next->prev = ss->prev;
  ss->next = ss->prev = NULL;
}

/* ---- slab release --------------------------------------------------------------- */
static uint64_t all_slabs_mask(const hk_ss *ss) {
  return ss->nslabs == 64 ? ~0ull : (1ull << ss->nslabs) - 1;
}

static uint64_t run_mask(unsigned span) { return span == 64 ? ~0ull : (1ull << span) - 1; }

/* The retire event: s has used == 0 and goes back to its SuperSlab, usable
 * by any class; the SuperSlab leaves the heap if now empty. */
static void retire_slab(hk_heap *h, hk_slab *s) {
  unsigned c = s->cls;
  HK_ASSERT(s->used == 0 && s->owner == h, "only an empty slab of this heap goes back to its SuperSlab");
  HK_ASSERT(h->slabs_in_use > 0, "slabs_in_use counts the slabs formatted for this heap");
  list_remove(s->full ? &h->full[c] : &h->avail[c], s);
  s->full = 0;
  for (unsigned i = 0; i < HK_SPARE_SLABS; i++)
    if (h->spare[c][i] == s) h->spare[c][i] = NULL;
  sync_current(h, c);
  hk_ss *ss = hk_ss_of_slab(s);
  for (unsigned k = 0; k < s->span; k++) { /* s and its followers */
    s[k].cls = HK_CLASS_NONE;
    s[k].shareable = 0;
    s[k].back = 0;
    s[k].owner = NULL;
  }
  s->free = HK_END;
  h->slabs_emptied++;
  h->slabs_in_use--;
  h->class_slabs[c]--;
  HK_ASSERT((ss->free_mask & (run_mask(s->span) << s->index)) == 0, "a slab in use is not in its SuperSlab's free mask");
  ss->free_mask |= run_mask(s->span) << s->index;
  if (!ss->in_avail) ss_avail_push(h, ss);
  if (ss->free_mask == all_slabs_mask(ss)) {
    ss_avail_remove(h, ss);
    ss_list_remove(h, ss);
    hk_ss_release(ss);
  }
}

static bool is_retained(hk_heap *h, hk_slab *s) { return h->avail[s->cls].head == s; }

/* Class c may hold blocks in h's thread cache or slabs in its lists from now on. */
static void note_class_used(hk_heap *h, unsigned c) { h->classes_used[c / 64] |= 1ull << (c % 64); }

/* The first class from c on that h used (classes_used), or HK_NCLASSES. */
static unsigned used_class_from(const hk_heap *h, unsigned c) {
  while (c < HK_NCLASSES) {
    uint64_t rest = h->classes_used[c / 64] >> (c % 64);
    if (rest) return c + (unsigned)__builtin_ctzll(rest);
    c = (c / 64 + 1) * 64;
  }
  return HK_NCLASSES;
}
#define FOR_EACH_USED_CLASS(h, c) for (unsigned c = used_class_from(h, 0); c < HK_NCLASSES; c = used_class_from(h, c + 1))

/* Releases retained empty current slabs of classes other than except. */
static bool retire_retained(hk_heap *h, unsigned except) {
  bool any = false;
  FOR_EACH_USED_CLASS(h, c) {
    hk_slab *s = h->avail[c].head;
    if (c != except && s && s->used == 0) {
      retire_slab(h, s);
      any = true;
    }
  }
  return any;
}

/* Where a slab goes on a list. */
enum list_end { AT_HEAD, AT_TAIL };

/* The unfull event: a slab on the full list has a free block again (a local
 * free, or remote frees collected) and goes back on the available list. */
static void unfull_slab(hk_heap *h, hk_slab *s, enum list_end where) {
  unsigned c = s->cls;
  HK_ASSERT(s->full, "only a slab on the full list moves to the available list");
  list_remove(&h->full[c], s);
  s->full = 0;
  if (where == AT_HEAD) list_push_head(&h->avail[c], s); else list_push_tail(&h->avail[c], s);
  sync_current(h, c);
}

static void return_block(hk_heap *h, hk_slab *s, hk_block *b);

/* s, of h, emptied by a free (local, or blocks taken from the inbox) and not
 * its class's current slab. Released at once, it was formatted and carved
 * again a moment later: 8x as often as with per-slab lists in a workload
 * passing large blocks between threads, one slab per dozen 5 KiB blocks when
 * a collector frees its buffers in bursts; kept, every emptied slab, the
 * first workload's peak RSS grew by a third. So each class keeps
 * HK_SPARE_SLABS spares (h->spare[c]) at the tail of its available list,
 * which the allocation takes when the slabs before it are dry, and releases
 * the others. A slot whose slab is in use again, or current, is free. What
 * the spares hold back: a SuperSlab with a spare in it cannot empty and leave
 * the heap, so collect_all releases them before the heap takes another
 * SuperSlab, at trim and at exit. Eight slabs whatever their span (a bound
 * of eight 64 KiB units instead, one slab of the largest classes, tripled
 * pass_random's reformats and raised its peak RSS). Eight rather than one or two:
 * bursts of 40 frees of 5 KiB (4 slabs) formatted 2.5, 1.5 and 0.6 slabs a
 * burst with none, one and two spares, and 8 cut pass_random's reformats to a fifth
 * (peak RSS 27 MB instead of 31). */
static void keep_spare(hk_heap *h, hk_slab *s) {
  unsigned c = s->cls;
  hk_slab_list *l = &h->avail[c];
  hk_slab **slot = NULL;
  for (unsigned i = 0; i < HK_SPARE_SLABS; i++) {
    hk_slab *t = h->spare[c][i];
    if (t == s) {
      slot = &h->spare[c][i];
      break;
    }
    if (!slot && (!t || t->used != 0 || t == l->head)) slot = &h->spare[c][i]; /* free, or not a spare any more */
  }
  if (!slot) {
    retire_slab(h, s);
    return;
  }
  *slot = s;
  if (s->full) {
    unfull_slab(h, s, AT_TAIL);
  } else if (l->tail != s) {
    list_remove(l, s);
    list_push_tail(l, s);
  }
}

/* k of h's own blocks of slab s, linked from first to last, onto its local
 * list at once: the slab on the available list, or kept as a spare when it
 * emptied (or released, but the spares). */
static void run_to_slab(hk_heap *h, hk_slab *s, hk_block *first, hk_block *last, uint32_t k) {
  HK_ASSERT(s->used >= k && s->used <= s->capacity, "blocks coming back were counted in used");
  hk_set_next(last, s->free);
  s->free = first;
  s->used -= k;
  if (s->used == 0 && !is_retained(h, s)) keep_spare(h, s);
  else if (s->full) unfull_slab(h, s, AT_TAIL);
}

/* The n blocks at v back where they belong: h's own onto their slabs' local
 * lists, a run of one slab's blocks spliced on at once, that slab on the
 * available list (or released when it emptied, but the spares); other
 * heaps' (from the thread cache) to their owners. For a message from the
 * inbox, a spill or a flush of the thread cache; none of them counts a free
 * (they were counted when they happened). */
static void blocks_to_slabs(hk_heap *h, hk_block *const *v, uint32_t n) {
  for (uint32_t i = 0; i < n;) {
    hk_block *first = v[i];
    hk_slab *s = hk_head_slab_of((uintptr_t)first);
    if (HK_UNLIKELY(s->owner != h)) {
      hk_remote_give_back(h, s, first);
      i++;
      continue;
    }
    uintptr_t start = s->start, bytes = (uintptr_t)s->capacity * s->block_size;
    hk_block *last = first;
    uint32_t k = 1;
    for (i++; i < n && (uintptr_t)v[i] - start < bytes; i++, k++) {
      hk_set_next(last, v[i]);
      last = v[i];
    }
    run_to_slab(h, s, first, last, k);
  }
}

/* blocks_to_slabs for the first n blocks of a thread-cache list from first:
 * runs of one slab's blocks are linked already, and go on at once (the
 * cache's links are plain: it is off in secure mode, where slab lists are
 * encoded). Returns the block after them: the rest of the list. */
static hk_block *chain_to_slabs(hk_heap *h, hk_block *first, uint32_t n) {
  while (n) {
    hk_slab *s = hk_head_slab_of((uintptr_t)first);
    hk_block *next = first->next;
    if (HK_UNLIKELY(s->owner != h)) {
      hk_remote_give_back(h, s, first);
      first = next;
      n--;
      continue;
    }
    uintptr_t start = s->start, bytes = (uintptr_t)s->capacity * s->block_size;
    hk_block *last = first;
    uint32_t k = 1;
    for (; k < n && (uintptr_t)next - start < bytes; k++) {
      last = next;
      next = next->next;
    }
    run_to_slab(h, s, first, last, k);
    first = next;
    n -= k;
  }
  return first;
}

static HK_NOINLINE void free_shareable_uncached(hk_heap *h, hk_slab *s, hk_block *b);

/* Where take_inbox puts the blocks. */
enum inbox_to { INBOX_TO_CACHE, INBOX_TO_SLABS };

/* The n blocks at v onto h's thread cache of class c, which has room for
 * them. Not frees: counted by the threads that freed them. */
static void blocks_to_cache(hk_heap *h, unsigned c, hk_block *const *v, uint32_t n) {
  HK_ASSERT(n <= hk_tc_room(h, c), "the cache has room for the blocks taken");
  hk_block *top = h->tc[c];
  for (uint32_t i = 0; i < n; i++) {
    v[i]->next = top;
    top = v[i];
  }
  h->tc[c] = top;
  h->tc_room[c] -= n;
  h->tc_push_base[c] -= n;
}

/* The last n blocks of m onto h's thread cache, which has room for them. */
static void msg_blocks_to_cache(hk_heap *h, hk_remote_msg *m, uint32_t n) {
  HK_ASSERT(n <= m->count, "a message gives no more blocks than it holds");
  m->count -= n;
  blocks_to_cache(h, m->cls, m->blocks + m->count, n);
}

/* m's blocks onto h's thread cache, if it has room for them all; whether
 * they went. */
static bool msg_to_cache(hk_heap *h, hk_remote_msg *m) {
  if (hk_tc_room(h, m->cls) < m->count) return false;
  msg_blocks_to_cache(h, m, m->count);
  return true;
}

/* ---- held blocks ----------------------------------------------------------------
 * A thread whose blocks another frees (a producer) takes its inbox when its
 * current slab runs out, often many messages at once. Those its thread cache
 * has no room for went back onto their slabs, linked through the blocks: a
 * write to each block, long before it is handed out again, when its line has
 * left the cache, and a read of each link when it is (xmalloc-test: the
 * producer's malloc waited on that read in a quarter of its samples). Of the
 * class being allocated, up to HELD_MAX_BLOCKS and HELD_MAX_BYTES are held
 * instead, as addresses, for the cache's next refills: a block is first
 * touched by its caller. At most one class is held, which the next refill of
 * another class, and collect_all (a new SuperSlab, trim, exit), send back to
 * the slabs: a thread that stops allocating the class hides no more than the
 * bound, and not past its next slow path. */
#define HELD_MAX_BLOCKS 4096u
#define HELD_MAX_BYTES (256u << 10)

static uint32_t tc_bound(unsigned c, uint32_t blocks, uint32_t bytes); /* the thread cache's, below */

/* held_count and held_cls are read by hak_stats in other threads (thread_cache_bytes). */
static void held_set(hk_heap *h, uint32_t count, unsigned c) {
  __atomic_store_n(&h->held_count, count, __ATOMIC_RELAXED);
  __atomic_store_n(&h->held_cls, c, __ATOMIC_RELAXED);
}

/* The held blocks back onto their slabs. */
static void held_to_slabs(hk_heap *h) {
  blocks_to_slabs(h, h->held, h->held_count);
  held_set(h, 0, h->held_cls);
}

/* The newest of the held blocks of class c onto h's thread cache, as many as
 * fit; whether any went. Held blocks of another class go to their slabs. */
static bool held_to_cache(hk_heap *h, unsigned c) {
  if (!h->held_count) return false;
  if (h->held_cls != c) {
    held_to_slabs(h);
    return false;
  }
  uint32_t room = hk_tc_room(h, c), n = room < h->held_count ? room : h->held_count;
  held_set(h, h->held_count - n, c);
  blocks_to_cache(h, c, h->held + h->held_count, n);
  return n != 0;
}

/* The last blocks of m, of the class c being allocated, into h's held
 * blocks, as many as the bound leaves room for. Those of another class went
 * to their slabs first (alloc_from: held_to_cache). */
static void msg_blocks_to_held(hk_heap *h, hk_remote_msg *m, unsigned c) {
  HK_ASSERT(h->held_count == 0 || h->held_cls == c, "held blocks are of the class being allocated");
  if (!h->held && !(h->held = hk_meta_alloc(HELD_MAX_BLOCKS * sizeof *h->held))) return;
  uint32_t room = tc_bound(c, HELD_MAX_BLOCKS, HELD_MAX_BYTES) - h->held_count;
  uint32_t n = room < m->count ? room : m->count;
  m->count -= n;
  memcpy(h->held + h->held_count, m->blocks + m->count, n * sizeof *m->blocks);
  held_set(h, h->held_count + n, c);
}

/* ---- fine classes for a heap's busiest classes (size_class.c) -------------
 * A heap starts on the coarse classes. When one that the fine table splits
 * (those from 160 bytes to 1 KiB) takes its SPLIT_SLABS-th slab (1 MiB of
 * its blocks), its sizes go to the fine classes from then on (split_class):
 * a growing class loses an eighth of what it holds to rounding on average,
 * where the up to three classes it splits into cost a part-used slab each.
 * Smaller working sets stay coarse (size_class.c has the figures).
 *
 * Until other threads have freed FINE_RETURNED_MAX of the heap's blocks of
 * fine-only classes that share cache lines back to it (the freeing threads
 * could not keep them in their caches and sent each one back): then the
 * heap goes back to the coarse classes for good (go_coarse). A program
 * whose threads keep their blocks (jq, python3) keeps its split classes; a
 * server handing its blocks to other threads is back within a few thousand
 * frees. The blocks of the fine-only classes stay valid and go back to their
 * slabs when freed. */
#define SPLIT_SLABS 16u
#define FINE_RETURNED_MAX 1024u

/* Nor does a heap split while it frees other heaps' blocks at more than an
 * eighth of its allocations of the class: its own blocks then go to other
 * threads too (a server passing work between threads), and a split left
 * its coarse slabs with half their demand while the fine classes took new
 * slabs, which the blocks passed on never filled. bench_server_handoff, 16 threads,
 * 2,000 rounds: peak RSS 155 -> 138 MB (never splitting: 122; tcmalloc 87).
 * A thread that only frees its own blocks (jq, python3) splits as before. */
#define SPLIT_FOREIGN_SHARE 8u

/* h's class table into its cache tops (h->tc_of), and into its thread's,
 * which malloc reads (hk_tl), when h is the calling thread's heap (the exit
 * heap is no thread's). */
static void class_table_changed(hk_heap *h) {
  for (size_t g = 0; g < HK_CLASS_GRANULES; g++) h->tc_of[g] = &h->tc[h->class_small[g]];
  if (h == hk_tl.heap) memcpy(hk_tl.tc_of, h->tc_of, sizeof hk_tl.tc_of);
}

/* Class c's sizes to the fine classes in h's table, unless they are there
 * (or there are none: up to 128 bytes and above 1 KiB the tables agree). */
static void split_class(hk_heap *h, unsigned c) {
  size_t top = hk_class_size[c];
  if (top > HK_CLASS_SMALL_MAX) return;
  size_t g = HK_CLASS_GRANULE(top), bottom = g;
  while (bottom > 0 && hk_class_small_coarse[(bottom - 1) * 16] == c) bottom--;
  if (h->class_small[bottom] == hk_class_small[bottom * 16]) return; /* split already (or no finer class) */
  for (; bottom <= g; bottom++) h->class_small[bottom] = hk_class_small[bottom * 16];
  h->classes_split++;
  class_table_changed(h);
}

/* Counts n blocks of class c that other threads freed into h, taken back:
 * those of fine-only classes that share cache lines (the 64-byte steps
 * above 512 bytes are whole lines, which the freeing threads keep). */
static void note_returned(hk_heap *h, unsigned c, uint32_t n) {
  if (!h->coarse_only && hk_class_fine_only(c) && !hk_class_whole_lines(c)) h->fine_returned += n;
}

/* The remote frees on s's list onto its local list (per-slab remote frees,
 * or chains when messages ran out: remote.c), counted; how many. */
static uint32_t collect(hk_heap *h, hk_slab *s) {
  uint32_t n = hk_slab_collect(s);
  if (n) note_returned(h, s->cls, n);
  return n;
}

/* The coarse classes for good; the thread cache's blocks of fine-only
 * classes (which no allocation asks for any more) back to their slabs. On
 * the slow path of an allocation (whose class's cache is empty), where a
 * message's blocks go to slabs as well. */
static void tc_flush_class(hk_heap *h, unsigned c);
static HK_NOINLINE void go_coarse(hk_heap *h) {
  memcpy(h->class_small, hk_empty_heap.class_small, sizeof h->class_small);
  h->coarse_only = 1;
  class_table_changed(h);
  FOR_EACH_USED_CLASS(h, c)
    if (hk_class_fine_only(c)) tc_flush_class(h, c);
}

/* Blocks other threads sent to h in messages (remote.c), counted as freed
 * when they were freed. Each message is of one class. With INBOX_TO_CACHE
 * (an allocation of class c found no block): a message goes onto its class's
 * thread cache where that has room for it, of class c what does not into the
 * held blocks (above) while they have room; the blocks stay counted as used
 * in their slabs, as any cached block. The rest goes back to their slabs,
 * where the owner writes its own blocks, which no other thread wrote since
 * they were freed: the chains linked through the blocks that messages
 * replaced had the owner read lines another core had just written (a
 * producer/consumer pair: 22 -> 44 M ops/s with messages). */
static hk_remote_msg *take_idle_sorted(hk_heap *h, hk_remote_msg *taken);
static void take_inbox(hk_heap *h, enum inbox_to to, unsigned c) {
  atomic_store_explicit(&h->inbox_looks, atomic_load_explicit(&h->inbox_looks, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  hk_remote_msg *taken = take_idle_sorted(h, hk_inbox_take(h));
  for (hk_remote_msg *m = taken; m; m = m->next) {
    note_returned(h, m->cls, m->count);
    if (to == INBOX_TO_CACHE) {
      if (msg_to_cache(h, m)) continue;
      if (m->cls == c && h->tc_limit[c]) msg_blocks_to_held(h, m, c);
    }
    blocks_to_slabs(h, m->blocks, m->count);
  }
  hk_remote_msgs_done(h, taken);
}

/* ---- idle heaps' inboxes --------------------------------------------------------
 * A live thread that stops allocating (a main thread that built the data,
 * handed it to workers and waits for them) never looks at its inbox again:
 * the blocks other threads freed into its slabs stay counted as used there,
 * and the threads that keep allocating take new slabs instead (larson: the
 * main thread's 10,000 warm-up blocks held 101 slabs, 6.5 MB, for the whole
 * run). So a thread about to carve fresh blocks (a page of a slab, or a
 * new slab) first looks at the inbox of a heap whose thread has not looked
 * at it since another thread last looked (inbox_looks), and sorts it: the
 * messages of shareable classes go to the
 * heap's idle pools, one per class, from which any thread takes the blocks
 * of the class it needs that its thread cache has room for; the others are
 * kept aside (idle_kept). A thread cache may hold another heap's blocks:
 * they count as used in their slab until they are back on it, as in the
 * inbox, and freed again they go to their owner. The owner takes its pools
 * and kept messages back with its inbox (take_inbox); slab metadata stays
 * the owner's alone.
 *
 * Sorted once, rather than taken whole and put back on each look (this
 * file's first design), a message is read once: the main thread of
 * bench_server_handoff with 16 threads, idle while the others passed its
 * 80,000 blocks on, had 14,000 messages (38 MB) in its inbox, and a look
 * walked them all for the few that fitted one thread's cache of one class;
 * the threads took new slabs instead, and peak RSS grew all run.
 *
 * At most IDLE_LOOKS heaps a time, from where the last look stopped: a walk
 * of every heap for each new slab was a cache miss per thread. One lock for
 * every heap's pools: they are looked at only before fresh blocks, by a thread
 * that tries the lock and looks elsewhere when it is taken, and by an owner
 * whose inbox was sorted. */
#define IDLE_LOOKS 8
static pthread_mutex_t idle_pools_lock = PTHREAD_MUTEX_INITIALIZER;
/* the heap whose inbox was sorted last: looked at first (heaps are never unmapped) */
static _Atomic(hk_heap *) idle_sorted_last;

/* The messages of h's idle pools and those kept aside, put before taken (a
 * list taken from h's inbox): the owner's, with its inbox (take_inbox). */
static hk_remote_msg *take_idle_sorted(hk_heap *h, hk_remote_msg *taken) {
  if (HK_LIKELY(!atomic_load_explicit(&h->idle_sorted, memory_order_relaxed))) return taken;
  hk_mutex_lock(&idle_pools_lock);
  atomic_store_explicit(&h->idle_sorted, 0, memory_order_relaxed);
  hk_remote_msg *lists[HK_NCLASSES + 1];
  memcpy(lists, h->idle_pool, sizeof h->idle_pool);
  memset(h->idle_pool, 0, sizeof h->idle_pool);
  lists[HK_NCLASSES] = h->idle_kept;
  h->idle_kept = NULL;
  hk_mutex_unlock(&idle_pools_lock);
  for (unsigned i = 0; i <= HK_NCLASSES; i++) {
    hk_remote_msg *m = lists[i];
    if (!m) continue;
    hk_remote_msg *last = m;
    while (last->next) last = last->next;
    last->next = taken;
    taken = m;
  }
  return taken;
}

/* o's inbox into its idle pools, if its thread has not looked at it since
 * the last time another thread asked. Under idle_pools_lock. */
static void sort_idle_inbox(hk_heap *o) {
  if (!atomic_load_explicit(&o->inbox, memory_order_relaxed)) return;
  uint32_t seen = atomic_load_explicit(&o->inbox_looks, memory_order_relaxed) + 1;
  if (atomic_exchange_explicit(&o->inbox_looks_seen, seen, memory_order_relaxed) != seen) return;
  hk_remote_msg *m = hk_inbox_take(o);
  if (!m) return;
  for (hk_remote_msg *next; m; m = next) {
    next = m->next;
    hk_remote_msg **list = hk_class_shareable(m->cls) ? &o->idle_pool[m->cls] : &o->idle_kept;
    m->next = *list;
    *list = m;
  }
  atomic_store_explicit(&o->idle_sorted, 1, memory_order_relaxed);
  atomic_store_explicit(&idle_sorted_last, o, memory_order_relaxed);
}

/* The first message of o's idle pool of class c, emptied: off the pool,
 * onto *emptied. Under idle_pools_lock. */
static void pool_drop_first(hk_heap *o, unsigned c, hk_remote_msg **emptied) {
  hk_remote_msg *m = o->idle_pool[c];
  o->idle_pool[c] = m->next;
  m->next = *emptied;
  *emptied = m;
}

/* Blocks of o's idle pool of class c into h's thread cache while it has
 * room; the emptied messages onto *emptied. Whether any came. Under
 * idle_pools_lock. */
static bool pool_to_cache(hk_heap *h, hk_heap *o, unsigned c, hk_remote_msg **emptied) {
  bool any = false;
  hk_remote_msg *m;
  uint32_t room;
  while ((m = o->idle_pool[c]) != NULL && (room = hk_tc_room(h, c)) != 0) {
    msg_blocks_to_cache(h, m, room < m->count ? room : m->count); /* a message may not fit whole */
    any = true;
    if (m->count) break;
    pool_drop_first(o, c, emptied);
  }
  return any;
}

/* The class whose idle pool also serves an allocation of class c: the next
 * one up when it is shareable and at most an eighth larger, else c. The
 * thread that built the data split its classes (split_class) and those it
 * handed the data to did not: bench_server_handoff's main thread (16
 * threads) pooled 13 MB of blocks of 576, 704, 832 and 960 bytes that the
 * others, asking for 512, 640, 768 and 896, never took. */
static unsigned idle_pool_above(unsigned c) {
  unsigned d = c + 1;
  bool near = d < HK_NCLASSES && hk_class_size[d] <= hk_class_size[c] + hk_class_size[c] / 8;
  return near && hk_class_shareable(d) ? d : c;
}

/* The class above c whose blocks h keeps in its thread cache for
 * allocations of c, or c: the class idle pools serve c from as well
 * (idle_pool_above), when h's class table asks for none of its blocks. A
 * heap on the coarse classes that frees the blocks of a fine class (a
 * thread that split its classes built the data and handed it on) otherwise
 * has that class's cache closed, and each such free went back to the block's
 * owner, whose idle pools another thread's allocation of c took it from
 * again: bench_server_handoff with 4 threads sent 4.5% of its frees round
 * that circle, through the idle pools' lock. Kept, they serve c's
 * allocations when c's cache and current slab are empty (alloc_from), each
 * counted as an allocation of its own class, as an idle pool's are. */
static unsigned cache_above(const hk_heap *h, unsigned c) {
  unsigned d = idle_pool_above(c);
  if (d == c || hk_class_size[d] > HK_CLASS_SMALL_MAX) return c;
  return h->class_small[HK_CLASS_GRANULE(hk_class_size[d])] == d ? c : d;
}

/* h's stash of blocks for allocations of class c (pool_take_above) that
 * holds some, or NULL. */
static hk_above_stash *above_stash_for(hk_heap *h, unsigned c) {
  if (HK_LIKELY(!h->above_held)) return NULL;
  for (unsigned i = 0; i < HK_ABOVE_SLOTS; i++)
    if (h->above[i].count && h->above[i].below == c) return &h->above[i];
  return NULL;
}

/* Sets a stash's count (read by hak_stats with its class); when it fills
 * or empties, the class's current slab follows (sync_current). */
static void above_set(hk_heap *h, hk_above_stash *a, uint32_t count) {
  bool changed = !a->count != !count;
  if (changed) h->above_held += count ? 1 : -1;
  __atomic_store_n(&a->count, count, __ATOMIC_RELAXED);
  if (changed) sync_current(h, a->below);
}

/* The blocks h took for the classes below theirs, not handed out, back to
 * their owners. */
static void above_give_back(hk_heap *h) {
  for (unsigned i = 0; i < HK_ABOVE_SLOTS && h->above_held; i++) {
    hk_above_stash *a = &h->above[i];
    for (uint32_t k = 0; k < a->count; k++) {
      hk_block *b = a->blocks[k];
      hk_remote_give_back(h, hk_head_slab_of((uintptr_t)b), b);
    }
    if (a->count) above_set(h, a, 0);
  }
}

/* For an allocation of class c: the next block h took for it from the pool
 * of the class above (pool_take_above), handed out as an allocation of its
 * own class; or NULL. */
static hk_block *above_take(hk_heap *h, unsigned c) {
  hk_above_stash *a = above_stash_for(h, c);
  if (!a) return NULL;
  uint32_t n = a->count - 1;
  hk_block *b = a->blocks[n];
  h->nalloc_above[a->cls]++;
  above_set(h, a, n);
  return b;
}

/* Up to HK_ABOVE_STASH blocks of o's idle pool of the class above c
 * (idle_pool_above) into an empty stash of h's, an emptied message onto
 * *emptied, unless h holds some for c already or has no empty stash;
 * whether any came. Blocks of the class above are handed out one at a time
 * by the slow path (above_take), before the heap's own slabs (sync_current
 * keeps the class's current slab empty meanwhile), each counted as an
 * allocation of its own class, by which it is freed: in a thread cache of
 * class c they would count as blocks of c. Under idle_pools_lock. */
static bool pool_take_above(hk_heap *h, hk_heap *o, unsigned c, hk_remote_msg **emptied) {
  unsigned d = idle_pool_above(c);
  hk_remote_msg *m = o->idle_pool[d];
  if (d == c || !m || above_stash_for(h, c)) return false;
  hk_above_stash *a = NULL;
  for (unsigned i = 0; i < HK_ABOVE_SLOTS && !a; i++)
    if (h->above[i].count == 0) a = &h->above[i];
  if (!a) return false;
  uint32_t got = 0;
  while ((m = o->idle_pool[d]) != NULL && got < HK_ABOVE_STASH) {
    uint32_t n = m->count < HK_ABOVE_STASH - got ? m->count : HK_ABOVE_STASH - got;
    m->count -= n;
    memcpy(a->blocks + got, m->blocks + m->count, n * sizeof *m->blocks);
    got += n;
    if (m->count) break;
    pool_drop_first(o, d, emptied);
  }
  __atomic_store_n(&a->cls, d, __ATOMIC_RELAXED);
  a->below = c;
  above_set(h, a, got);
  return true;
}

/* Blocks from o's idle pool of class c into h's thread cache, as many as it
 * has room for, and into h's stash from the pool of the class above if the
 * stash is empty (pool_take_above); whether any came. o's inbox is sorted
 * first when the pool of c is empty (if o looks idle). */
static bool take_idle_pool(hk_heap *h, hk_heap *o, unsigned c) {
  if (!atomic_load_explicit(&o->inbox, memory_order_relaxed) &&
      !atomic_load_explicit(&o->idle_sorted, memory_order_relaxed))
    return false;
  if (!hk_mutex_trylock(&idle_pools_lock)) return false; /* another thread is at it */
  if (!o->idle_pool[c]) sort_idle_inbox(o);
  hk_remote_msg *emptied = NULL;
  bool any = pool_to_cache(h, o, c, &emptied);
  any |= pool_take_above(h, o, c, &emptied);
  hk_mutex_unlock(&idle_pools_lock);
  hk_remote_msgs_done(h, emptied);
  return any;
}

/* Whether idle heaps' pools may serve h's allocations of class c: they need
 * inboxes, a thread cache to keep the blocks in, and blocks that fill their
 * cache lines (below). */
static bool idle_pools_serve(const hk_heap *h, unsigned c) {
  return g_hk.remote_batch && h->has_tc && hk_class_shareable(c);
}

/* For an allocation of class c about to carve fresh blocks: blocks of class c
 * from idle heaps' pools into h's thread cache, and blocks of the class
 * above into its stash (take_idle_pool); one of them handed out, or NULL.
 * Only where idle_pools_serve: for a class whose blocks fill whole cache
 * lines (shareable, which any thread may keep): a smaller block shares its
 * line with blocks its owner, or the threads it handed them to, still write
 * (bench_false_sharing's workers were given the line of the objects the
 * waiting main thread had handed to the others). */
static hk_block *take_from_idle_heaps(hk_heap *h, unsigned c) {
  HK_ASSERT(idle_pools_serve(h, c), "idle pools are looked at only for a class they may serve");
  /* the heap sorted last first: threads that came to an idle heap's pools
   * only in their turn among the others left most of them there
   * (bench_server_handoff, 16 threads on 2 cores: peak RSS 125 against 110
   * MB) */
  hk_heap *sorted = atomic_load_explicit(&idle_sorted_last, memory_order_relaxed);
  if (sorted && sorted != h && __atomic_load_n(&sorted->is_live, __ATOMIC_RELAXED)) take_idle_pool(h, sorted, c);
  hk_heap *head = __atomic_load_n(&heaps_all, __ATOMIC_ACQUIRE); /* heaps are only ever added at the head */
  hk_heap *o = h->idle_cursor ? h->idle_cursor : head, *first = o;
  for (unsigned i = 0; i < IDLE_LOOKS && hk_tc_room(h, c); i++) { /* each heap once: a second look would find it idle */
    if (o != h && __atomic_load_n(&o->is_live, __ATOMIC_RELAXED)) take_idle_pool(h, o, c);
    o = o->all_next ? o->all_next : head;
    if (o == first) break;
  }
  h->idle_cursor = o;
  hk_block *t;
  if (hk_tc_pop(h, c, &t)) return t;
  return above_take(h, c);
}

/* ---- the thread cache's bounds --------------------------------------------------
 * A class's bound starts at 64 blocks and 32 KiB (at least one block). A free
 * that finds the cache full grows it by that much again, up to 512 blocks and
 * 1 MiB, while the heap's bounds grew by at most TC_GROWTH_BUDGET in all and
 * the class's bound stays within the blocks of it the heap ever handed out
 * (from its slabs or its cache) and within those in use in its slabs
 * (tc_class_in_use); past that the block goes to its slab (or,
 * another heap's, to its owner). collect_all puts the bounds back (tc_flush). The live
 * count of a class that a program allocates and frees at random walks between
 * empty and full, and each end costs a trip to the slabs: a larger bound for
 * the classes that overflow cuts those trips (mid_large: 3 classes of 10-40
 * KiB), while the budget keeps what an idle thread holds small.
 *
 * What a cache holds is memory no other thread can use: a consumer thread
 * that only frees (bench_remote_free) filled its caches with the producer's
 * blocks and grew them to the whole budget, which it never allocated from;
 * and the starting bounds of 128 KiB a class held 3.5 MiB a thread when every
 * class was full. With 32 KiB and growth only for a class the thread
 * allocates (and 64 KiB messages in remote.c; alternating runs of both
 * builds): remote_free peak RSS 8.7 -> 5.4 MB at 15.2 -> 16.3 M ops/s,
 * pass_random 31.8 -> 27.6 MB; server_handoff, pool_replace, random_mixed
 * unchanged within their spread (instructions: server_handoff +0.2%). The
 * budget is 4 MiB: at 2 MiB mid_large 1 thread (10M operations) ran 90.6
 * against 92.2 M ops/s, at 1 MiB 68.5 against 73.6 (1M operations).
 *
 * With many threads, TC_GROWTH_ALL is shared out among the live ones (at
 * least TC_GROWTH_LEAST each), as tcmalloc shares its overall cache size:
 * each thread of a server that hands blocks around grows the bounds of its
 * classes as their counts wander up to them, and 16 of them held 17 MB
 * (bench_server_handoff on 2 cores, peak RSS 89 -> 86 MB at 1 MiB a thread;
 * tcmalloc 77). A heap whose bounds grew while fewer threads ran keeps them
 * until they are put back (tc_set_limits). */
#define TC_BASE_BLOCKS 64u
#define TC_BASE_BYTES (32u << 10)
#define TC_MAX_BLOCKS 512u
#define TC_MAX_BYTES (1024u << 10)
#define TC_GROWTH_BUDGET ((uint64_t)4 << 20)
#define TC_GROWTH_ALL ((uint64_t)16 << 20)
#define TC_GROWTH_LEAST ((uint64_t)512 << 10)

/* Threads with a heap of their own, for the share of TC_GROWTH_ALL. */
static _Atomic uint32_t heaps_live;

static uint64_t tc_growth_budget(void) {
  uint32_t live = atomic_load_explicit(&heaps_live, memory_order_relaxed);
  uint64_t share = live > 1 ? TC_GROWTH_ALL / live : TC_GROWTH_BUDGET;
  return share > TC_GROWTH_BUDGET ? TC_GROWTH_BUDGET : share < TC_GROWTH_LEAST ? TC_GROWTH_LEAST : share;
}

/* blocks of class c this heap handed out, from its slabs or its cache */
static uint64_t class_allocs(const hk_heap *h, unsigned c) { return h->nalloc[c] + hk_tc_pops(h, c); }

/* Whether h may split class c (SPLIT_FOREIGN_SHARE, above). */
static bool may_split(const hk_heap *h, unsigned c) {
  return !h->coarse_only && h->remote_frees * SPLIT_FOREIGN_SHARE <= class_allocs(h, c);
}

static uint32_t tc_bound(unsigned c, uint32_t blocks, uint32_t bytes) {
  uint32_t n = bytes / hk_class_size[c];
  return n > blocks ? blocks : n < 1 ? 1 : n;
}

/* Each class's starting bound and most, the same for every heap: worked out
 * once (tc_make_bounds, under heaps_lock in hk_heap_get, which every thread
 * passes before it has a heap), not at each tc_set_limits. Two divisions a
 * class there, at a thread's start and again at its exit, were 4,500 of the
 * 12,500 instructions hakmem spent on a thread that allocates one block and
 * exits (mimalloc-bench's mleak: 1,000 threads, callgrind). */
static uint16_t tc_base_of[HK_NCLASSES], tc_max_of[HK_NCLASSES];
static bool tc_bounds_made;
static void tc_make_bounds(void) {
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    tc_base_of[c] = (uint16_t)tc_bound(c, TC_BASE_BLOCKS, TC_BASE_BYTES);
    tc_max_of[c] = (uint16_t)tc_bound(c, TC_MAX_BLOCKS, TC_MAX_BYTES);
  }
  tc_bounds_made = true;
}

/* The starting bounds of an empty cache: 0 where there is no cache
 * (HAKMEM_THREAD_CACHE off, the exit heap: no slots), and for a class the
 * heap never allocated (tc_open_class). A class it never used has them
 * already (heap_new). */
static void tc_set_limits(hk_heap *h) {
  HK_ASSERT(tc_bounds_made, "the bounds of every class were worked out before the first heap");
  FOR_EACH_USED_CLASS(h, c) {
    HK_ASSERT(h->tc[c] == NULL && hk_tc_held(h, c) == 0, "the bounds are set on an empty cache");
    h->tc_max[c] = tc_max_of[c];
    bool open = h->tc_limit[c] || class_allocs(h, c); /* opened, maybe by the allocation that made this flush */
    h->tc_limit[c] = h->has_tc && open ? tc_base_of[c] : 0;
    h->tc_room[c] = h->tc_limit[c];
    h->tc_grow_after[c] = h->tc_limit[c];
  }
  h->tc_grown_bytes = 0;
}

/* A class's cache opens at the heap's first allocation of it (alloc_from):
 * until then the blocks of it that the thread frees, other heaps' all, go
 * to their owners. A consumer that only frees kept its starting bound of
 * the producer's blocks in every class, which neither thread used again
 * (bench_remote_free: 340 KB; peak RSS 3.3-3.6 -> 3.0 MiB). */
static void tc_open_one(hk_heap *h, unsigned c) {
  HK_ASSERT(h->has_tc && h->tc_limit[c] == 0 && h->tc[c] == NULL && h->tc_room[c] == 0,
            "a closed class caches nothing");
  h->tc_limit[c] = tc_base_of[c];
  h->tc_room[c] = h->tc_limit[c];
  h->tc_grow_after[c] = h->tc_limit[c];
  note_class_used(h, c);
}

/* The class above c, if h keeps its blocks for allocations of c (cache_above), opens with c. */
static void tc_open_class(hk_heap *h, unsigned c) {
  tc_open_one(h, c);
  unsigned d = cache_above(h, c);
  if (d != c && h->tc_limit[d] == 0) tc_open_one(h, d);
}

/* The blocks of class c in use in h's slabs: handed out and not back on a
 * slab's list (live, in any thread's cache, or on their way back), counted
 * by a walk of the class's slabs; UINT64_MAX past SLAB_WALK_MOST slabs. A
 * class's bound grows to no more than that. A free that overflows a cache
 * of h's own blocks finds at least one more of them in use than the bound,
 * so there this only trims the step; what it stops is a cache grown on
 * other heaps' blocks (a thread freeing the blocks it was passed), which
 * held them while their owners, their slabs part-used, took new ones
 * (alternating runs, peak RSS): bench_pass_random's two threads 11.0-11.8
 * MB without it, 8.8-10.7 with it (mimalloc 7.7-9.8); bench_server_handoff
 * 11.5-11.8 against 10.4-10.7, its throughput within the spread and 0.45%
 * more instructions. A refusal waits TC_GROWTH_RETRY times the bound's
 * allocations before the next walk. */
#define SLAB_WALK_MOST 256u
#define TC_GROWTH_RETRY 4u
static uint64_t tc_class_in_use(const hk_heap *h, unsigned c) {
  uint64_t used = 0;
  unsigned walked = 0;
  for (int full = 0; full < 2; full++)
    for (const hk_slab *s = full ? h->full[c].head : h->avail[c].head; s; s = s->next) {
      if (++walked > SLAB_WALK_MOST) return UINT64_MAX;
      used += s->used;
    }
  return used;
}

/* Grows class c's bound by its starting value (within its maximum, the
 * heap's budget, the blocks of c the heap allocated and those in use in its
 * slabs); whether the cache has room now. Only where tc_may_grow. */
static HK_NOINLINE bool tc_grow(hk_heap *h, unsigned c) {
  uint32_t limit = h->tc_limit[c];
  uint64_t allocated = class_allocs(h, c);
  HK_ASSERT(limit != 0 && limit < h->tc_max[c] && allocated > limit, "tc_may_grow said yes");
  uint32_t base = tc_base_of[c], max = h->tc_max[c];
  uint32_t step = max - limit < base ? max - limit : base;
  if (step > allocated - limit) step = (uint32_t)(allocated - limit);
  uint64_t in_use = tc_class_in_use(h, c);
  if (in_use <= limit) {
    h->tc_grow_after[c] = allocated + (uint64_t)TC_GROWTH_RETRY * limit;
    return false;
  }
  if (step > in_use - limit) step = (uint32_t)(in_use - limit);
  uint64_t bytes = (uint64_t)step * hk_class_size[c];
  if (h->tc_grown_bytes + bytes > tc_growth_budget()) {
    /* the budget only fills up until tc_set_limits, and a later step of
     * this class is smaller only when cut by the blocks in use: its bound
     * is at its most until then, and the next overflow goes to the slab
     * without asking (hk_tc_overflow) */
    h->tc_max[c] = (uint16_t)limit;
    return false;
  }
  h->tc_limit[c] += step;
  h->tc_room[c] += step;
  h->tc_grow_after[c] = h->tc_limit[c];
  h->tc_grown_bytes += bytes;
  return true;
}

/* Whether class c's bound may grow: tc_grow's cheap tests, inline, as a
 * thread that only frees fails them on each of its frees (a consumer's every
 * free overflows its cache of the producer's blocks: the call and frame of
 * tc_grow were 31 of its 109 instructions, bench_remote_free). */
static inline bool tc_may_grow(const hk_heap *h, unsigned c) {
  uint32_t limit = h->tc_limit[c];
  /* no thread cache (0), or at its most: a program freeing a large structure
   * overflows a full cache on every free */
  if (limit == 0 || limit >= h->tc_max[c]) return false;
  /* the bound never exceeds the blocks of the class the heap ever handed
   * out (tc_grow_after is at least the bound), so a consumer freeing blocks
   * it will not reuse keeps no more than the starting bound of them */
  return class_allocs(h, c) > h->tc_grow_after[c];
}

/* hk_tc_push into a cache that was full: HK_TC_FULL unless the bound grew. */
static enum hk_tc_pushed tc_push_grown(hk_heap *h, unsigned c, hk_block *b) {
  return tc_may_grow(h, c) && tc_grow(h, c) ? hk_tc_push(h, c, b) : HK_TC_FULL;
}

/* h's own block b, whose class's cache was full: into the cache if its
 * bound grows, else onto its slab. */
static HK_NOINLINE void tc_overflow_grow(hk_heap *h, hk_slab *s, hk_block *b) {
  if (tc_push_grown(h, s->cls, b) != HK_TC_PUSHED) hk_free_into_slab(h, hk_slab_head(s), b);
}

/* Class c's cache is full at its most: its newer half goes back, so that
 * the next frees are pushes again. The newer half, not the older: the frees
 * just wrote those blocks, so reading their links back finds them in cache,
 * where the older half's were misses, after a walk past the newer half to
 * reach them. A program freeing a large structure overflows on every 256th
 * free of small blocks: 4 M blocks of 16 B freed in random order 73.2 ->
 * 60.6 ns a free (mimalloc 37.8), in address order 6.3 -> 5.0 (3.8); perl
 * freeing a hash of 500,000 keys spent 6.2% of its samples in the spill,
 * 1.4% now. What it gives up: the blocks kept are the older ones, so
 * allocations right after a spill pop colder blocks; the misses move there,
 * they are not added. Sending each free past the bound to its slab instead
 * (a call through hk_tc_overflow and a count in the slab per free) is
 * slower still: 70 ns a free in random order, 7.3 in address order. */
static HK_NOINLINE void tc_spill(hk_heap *h, unsigned c) {
  uint32_t n = (hk_tc_held(h, c) + 1) / 2; /* all of a bound of one block */
  h->tc_room[c] += n;
  h->tc_push_base[c] += n; /* freed already: they only leave the cache */
  h->tc[c] = chain_to_slabs(h, h->tc[c], n);
}

/* h's own block b, whose class's cache was full. A cache at its most (a
 * program freeing a large structure overflows it on every free) spills its
 * newer half (tc_spill) and takes the block; one the heap's growth budget
 * stopped short sends the block to its slab. */
static HK_NOINLINE void tc_overflow_own(hk_heap *h, hk_slab *s, hk_block *b) {
  /* the class reread here: keeping it for the call cost the fast path a register copy */
  unsigned c = s->cls;
  if (h->tc_limit[c] < h->tc_max[c]) {
    tc_overflow_grow(h, s, b);
    return;
  }
  if (h->tc_max[c] < tc_max_of[c]) {
    /* stopped short by the growth budget: spilling there kept more slabs
     * part-used (pass_random peaked at 32.5 MB against 28.1) */
    hk_free_into_slab(h, hk_slab_head(s), b);
    return;
  }
  tc_spill(h, c);
  (void)hk_tc_push(h, c, b); /* room now; not the top (the inline free compared it), so not refused */
}

/* A free of block b (of slab or follower unit s) found h's thread cache
 * full (the inline free, which has refused a repeat of the top): h's own
 * block, or one of another heap's shareable slab. A leaf of two tail calls:
 * with the own case inline, its saved registers were 6 of the 104
 * instructions of a consumer's every free of another heap's block
 * (xmalloc-test). */
void hk_tc_overflow(hk_heap *h, hk_slab *s, hk_block *b) {
  if (s->owner != h) free_shareable_uncached(h, hk_slab_head(s), b); /* the inline free found s shareable and b a block's start */
  else tc_overflow_own(h, s, b);
}

/* Class c's cached blocks back to their slabs (or owners); its bound stays. */
static void tc_flush_class(hk_heap *h, unsigned c) {
  uint32_t held = hk_tc_held(h, c);
  HK_ASSERT(held <= h->tc_limit[c], "the cache holds no more than its bound");
  hk_block *first = h->tc[c];
  if (!first) { /* most classes of a thread's exit */
    HK_ASSERT(held == 0, "an empty cache holds nothing");
    return;
  }
  h->tc[c] = NULL;
  h->tc_room[c] = h->tc_limit[c];
  h->tc_push_base[c] += held;
  chain_to_slabs(h, first, held);
}

/* Empties h's thread cache: its own blocks back on their slabs (which may
 * release them), the others to their owners (gathered, sent by collect_all).
 * The bounds go back to their starting values. */
static void tc_flush(hk_heap *h) {
  FOR_EACH_USED_CLASS(h, c) tc_flush_class(h, c);
  tc_set_limits(h);
}

/* What collect_all does with a class's current slab when it is empty. */
enum empty_current { KEEP_EMPTY_CURRENT, RETIRE_EMPTY_CURRENT };

/* What other threads freed into h: its inbox, and the remote lists of its
 * slabs; what empties is retired. */
static void collect_slabs(hk_heap *h, enum empty_current current) {
  take_inbox(h, INBOX_TO_SLABS, 0);
  /* taken before the walk: a block pushed during it sets the flag again */
  bool remote = atomic_exchange_explicit(&h->remote_pending, 0, memory_order_acquire);
  FOR_EACH_USED_CLASS(h, c) {
    for (hk_slab *s = remote ? h->full[c].head : NULL, *next; s; s = next) {
      next = s->next;
      if (collect(h, s)) unfull_slab(h, s, AT_TAIL);
    }
    for (hk_slab *s = h->avail[c].head, *next; s; s = next) {
      next = s->next;
      collect(h, s);
      if (s->used == 0 && !(current == KEEP_EMPTY_CURRENT && is_retained(h, s))) retire_slab(h, s);
    }
  }
}

/* Collects remote frees everywhere in the heap and retires what empties;
 * first sends what h holds of other heaps' blocks (remote.c). */
static void collect_all(hk_heap *h, enum empty_current current) {
  tc_flush(h);
  above_give_back(h);
  hk_remote_flush(h); /* what h gathered for other heaps goes to their owners */
  held_to_slabs(h);
  collect_slabs(h, current);
}

/* ---- abandoned heaps ----------------------------------------------------------
 * A heap whose thread exited keeps what was still live. Frees of those blocks
 * by other threads land on remote lists that no owner collects, so before a
 * live heap takes a new SuperSlab (and in hak_trim) abandoned heaps are
 * collected: each is taken off the abandoned list while it is worked on, so
 * no new thread can adopt it meanwhile. */
#define RECLAIM_PER_ACQUIRE 4

/* An abandoned heap's collection, by a thread adopting it or reclaiming it.
 * One whose caches were flushed (by its thread's exit, or by an earlier
 * collection here) holds nothing in them, and no thread writes them while it
 * is abandoned, so only its slabs are collected: a thread that allocates once
 * and exits (mleak) took tc_flush's and the message table's walks over every
 * class at its start as well as at its exit. A fork child's abandoned heaps,
 * whose threads stopped anywhere, may hold blocks and messages: all of it,
 * once. */
static void collect_abandoned(hk_heap *h, enum empty_current current) {
  if (h->caches_flushed) {
    collect_slabs(h, current);
  } else {
    collect_all(h, current);
    h->caches_flushed = 1;
  }
}

static void reclaim_abandoned(unsigned limit) {
  for (unsigned i = 0; i < limit; i++) {
    hk_lock(&heaps_lock, HK_LOCK_HEAPS);
    hk_heap *a = heaps_abandoned;
    if (a) heaps_abandoned = a->abandoned_next;
    hk_unlock(&heaps_lock);
    if (!a) break;
    collect_abandoned(a, RETIRE_EMPTY_CURRENT);
    /* back at the tail, so the next reclaim looks at another heap first */
    hk_lock(&heaps_lock, HK_LOCK_HEAPS);
    a->abandoned_next = NULL;
    hk_heap **tail = &heaps_abandoned;
    while (*tail) tail = &(*tail)->abandoned_next;
    *tail = a;
    hk_unlock(&heaps_lock);
  }
}

/* The state of a block in a slab owned by a heap that is not the caller's.
 * An abandoned heap's local lists can be walked once the heap is claimed:
 * taken off the abandoned list under the lock, so that neither reclaim nor a
 * new thread adopting it touches them meanwhile. A live thread's lists, or a
 * heap being reclaimed or adopted right now, are not walked (hakmem.h). */
int hk_heap_foreign_block_state(hk_heap *owner, hk_slab *s, uintptr_t a) {
  hk_lock(&heaps_lock, HK_LOCK_HEAPS);
  hk_heap **at = &heaps_abandoned;
  while (*at && *at != owner) at = &(*at)->abandoned_next;
  bool claimed = *at != NULL;
  if (claimed) *at = owner->abandoned_next;
  hk_unlock(&heaps_lock);
  int state = hk_slab_block_state(s, a, claimed);
  if (claimed) {
    hk_lock(&heaps_lock, HK_LOCK_HEAPS);
    owner->abandoned_next = heaps_abandoned;
    heaps_abandoned = owner;
    hk_unlock(&heaps_lock);
  }
  return state;
}

/* ---- slab acquisition --------------------------------------------------------- */
#define RUN_SEARCH_LIMIT 8 /* SuperSlabs searched for a free run before taking a new one */

/* First free run of span units, aligned to span, in ss; -1 if none. */
static int find_run(const hk_ss *ss, unsigned span) {
  if (span == 1) return ss->free_mask ? __builtin_ctzll(ss->free_mask) : -1;
  uint64_t run = run_mask(span);
  for (unsigned i = 0; i + span <= ss->nslabs; i += span)
    if (((ss->free_mask >> i) & run) == run) return (int)i;
  return -1;
}

static hk_ss *ss_with_run(hk_heap *h, unsigned span, int *idx) {
  int n = 0;
  for (hk_ss *ss = h->ss_avail; ss && n < RUN_SEARCH_LIMIT; ss = ss->avail_next, n++)
    if ((*idx = find_run(ss, span)) >= 0) return ss;
  return NULL;
}

static hk_slab *new_slab(hk_heap *h, unsigned c) {
  unsigned span = hk_class_span[c];
  int idx;
  /* Growing: first hand the other heaps what this thread gathered for them
   * (its thread cache stays for its own reuse until collect_all). */
  hk_remote_send_batches(h);
  hk_ss *ss = ss_with_run(h, span, &idx);
  if (!ss && retire_retained(h, c)) ss = ss_with_run(h, span, &idx);
  if (!ss) {
    collect_all(h, KEEP_EMPTY_CURRENT);
    ss = ss_with_run(h, span, &idx);
  }
  if (!ss) {
    /* About to take a SuperSlab: first let abandoned heaps give back what
     * other threads freed into them since their threads exited. */
    reclaim_abandoned(RECLAIM_PER_ACQUIRE);
    ss = hk_ss_acquire(h);
    if (!ss) return NULL;
    ss_list_push(h, ss);
    ss_avail_push(h, ss);
    idx = find_run(ss, span);
  }
  ss->free_mask &= ~(run_mask(span) << idx);
  if (!ss->free_mask) ss_avail_remove(h, ss);
  hk_slab *s = hk_ss_slab(ss, (unsigned)idx);
  if (s->was_formatted) h->slabs_reused++;
  hk_slab_format(ss, (unsigned)idx, c, h);
  HK_ASSERT(s->used == 0 && s->cls == c && s->owner == h, "a new slab is empty, of class c, owned by h");
  note_class_used(h, c);
  h->slabs_in_use++;
  if (++h->class_slabs[c] >= SPLIT_SLABS && may_split(h, c)) split_class(h, c);
  hk_slab_extend(ss, s);
  list_push_head(&h->avail[c], s);
  return s;
}

/* Reuse before carving: a slab is carved a page at a time, and the head of
 * the available list is the slab formatted last, so it was carved on while
 * the slabs behind it (those that had blocks freed into them go to the
 * tail) held freed blocks, whose pages are in memory already: the next of
 * REUSE_LOOK slabs after s with a free block, or NULL. bench_pass_random's
 * two threads (16 B to 16 KiB) peaked at 10.8-11.8 MB against 11.6-12.3
 * without thread caches, 16.0-16.7 against 16.8-17.9 with them. */
#define REUSE_LOOK 4
static hk_slab *reusable_after(const hk_slab *s) {
  hk_slab *t = s->next;
  for (int i = 0; t && i < REUSE_LOOK; i++, t = t->next)
    if (t->free != HK_END) return t;
  return NULL;
}

/* Whether refill may carve fresh blocks in a slab: not before idle heaps'
 * pools were looked at (alloc_from). */
enum refill_carve { REFILL_NO_CARVE, REFILL_CARVE };

/* Makes current[c] a slab of h's with a free block, or returns NULL: none
 * has one, or (REFILL_NO_CARVE) the first slab without one has pages left
 * to carve. */
static hk_slab *refill(hk_heap *h, unsigned c, enum refill_carve carve) {
  hk_slab *s;
  while ((s = h->avail[c].head) != NULL) {
    if (s->free != HK_END) goto found;
    if (s->carved < s->capacity) {
      hk_slab *t = reusable_after(s);
      if (t) {
        list_remove(&h->avail[c], t);
        list_push_head(&h->avail[c], t);
        s = t;
        goto found;
      }
      if (carve == REFILL_NO_CARVE) return NULL;
      hk_slab_extend(hk_ss_of_slab(s), s);
      goto found;
    }
    if (collect(h, s)) goto found;
    list_remove(&h->avail[c], s);
    s->full = 1;
    list_push_tail(&h->full[c], s);
  }
  /* Nothing available: a few full slabs may have collected remote frees
   * (none unless some went onto a remote list since collect_all took them). */
  bool remote = atomic_load_explicit(&h->remote_pending, memory_order_relaxed);
  for (int i = 0; remote && i < FULL_SCAN_LIMIT && (s = h->full[c].head) != NULL; i++) {
    if (collect(h, s)) {
      unfull_slab(h, s, AT_HEAD);
      goto found;
    }
    list_remove(&h->full[c], s);
    list_push_tail(&h->full[c], s);
  }
  sync_current(h, c);
  return NULL;
found:
  HK_ASSERT(s == h->avail[c].head && s->free != HK_END, "refill leaves a slab with a free block at the head of avail[c]");
  sync_current(h, c);
  return s;
}

static void *alloc_from(hk_heap *h, unsigned c);
static void *alloc_after_exit(unsigned c);

void *hk_alloc_slab_slow(hk_heap *h, size_t cls) {
  unsigned c = (unsigned)cls;
  if (h == &hk_empty_heap) {
    if (HK_UNLIKELY(tl_heap_exited)) return alloc_after_exit(c);
    if (!(h = hk_heap_get())) return NULL;
  }
  return alloc_from(h, c);
}

static void *alloc_from(hk_heap *h, unsigned c) {
  if (HK_UNLIKELY(h->tc_limit[c] == 0) && h->has_tc) tc_open_class(h, c);
  hk_block *above = above_take(h, c); /* before the heap's own slabs */
  if (above) return above;
  unsigned d = cache_above(h, c);
  if (d != c && hk_tc_pop(h, d, &above)) return above;
  hk_slab *s = h->avail[c].head;
  if (!s || s->free == HK_END) {
    if (HK_UNLIKELY(h->fine_returned >= FINE_RETURNED_MAX) && !h->coarse_only) go_coarse(h);
    /* first what other threads sent back: it may fill this class's cache */
    hk_block *t;
    if (held_to_cache(h, c) && hk_tc_pop(h, c, &t)) return t;
    take_inbox(h, INBOX_TO_CACHE, c);
    if (hk_tc_pop(h, c, &t)) return t;
    /* Before fresh blocks, what idle heaps' inboxes hold: carving a page of
     * a slab touches memory the process did not use yet, as a new slab
     * does, while those blocks are in memory already (bench_server_handoff,
     * 16 threads on 2 cores: the workers carved on while the waiting main
     * thread's pools held blocks of their classes; peak RSS 104 -> 96 MB,
     * tcmalloc 77). A class they cannot serve refills in one pass. */
    bool idle = idle_pools_serve(h, c);
    if (!(s = refill(h, c, idle ? REFILL_NO_CARVE : REFILL_CARVE))) {
      if (idle) {
        if ((t = take_from_idle_heaps(h, c)) != NULL) return t;
        s = refill(h, c, REFILL_CARVE);
      }
      if (!s) s = new_slab(h, c);
      sync_current(h, c);
      if (!s) {
        errno = ENOMEM;
        return NULL;
      }
    }
  }
  hk_block *b = s->free, *next = hk_next(b);
  if (g_hk.secure && next != HK_END && !hk_block_in_slab(s, next)) hk_corrupt_list(s, b);
  HK_ASSERT(s->used < s->capacity, "used counts blocks handed out: never above capacity");
  s->free = next;
  s->used++;
  h->nalloc[c]++;
  if (g_hk.check) __atomic_store_n((uintptr_t *)b + 1, 0, __ATOMIC_RELAXED); /* live: no free mark */
  return b;
}

/* b back on the local list of h's slab s: secure links, retention by list head. */
static void return_block(hk_heap *h, hk_slab *s, hk_block *b) {
  HK_ASSERT(s->used > 0 && s->used <= s->capacity, "a block coming back was counted in used");
  hk_set_next(b, s->free);
  s->free = b;
  if ((--s->used == 0 || s->full) && !is_retained(h, s)) hk_slab_unfull_or_retire(h, s);
}

/* A free by the owning thread off the inline path: check and secure modes
 * (secure links), validated frees, a heap just adopted. As hk_free_local,
 * with its double-free checks. */
static void free_own_block(hk_heap *h, hk_slab *s, hk_block *b) {
  enum hk_tc_pushed r = hk_tc_push(h, s->cls, b); /* first: the slab's own line is not needed then */
  if (r == HK_TC_PUSHED) return;
  if (HK_UNLIKELY(r == HK_TC_REPEATED || b == s->free)) { /* the block just freed, again (as in hk_free_local) */
    hk_report_invalid_free(b, HAK_BLOCK_FREE);
    return;
  }
  h->nfree[s->cls]++;
  return_block(h, s, b);
}

/* Sets p's free mark (HAKMEM_CHECK); false if it was set already: of two
 * frees of one block racing in different threads, exactly one wins. */
static bool set_free_mark(void *p) {
  uintptr_t *word = (uintptr_t *)p + 1, mark = hk_free_mark(p);
  uintptr_t old = __atomic_load_n(word, __ATOMIC_RELAXED);
  do {
    if (old == mark) return false;
  } while (!__atomic_compare_exchange_n(word, &old, mark, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return true;
}

/* The free of a slab block in check and secure modes, and of a block already
 * validated (p is the start of a block, which check mode marks free here). */
bool hk_free_slab_block_slow(void *p) {
  uintptr_t a = (uintptr_t)p;
  if (!hk_registry_has(a)) return false;
  if (g_hk.check && !set_free_mark(p)) {
    hk_report_invalid_free(p, HAK_BLOCK_FREE);
    return true;
  }
  hk_free_other(hk_slab_at(a), (hk_block *)p);
  return true;
}

/* A local free (not into the class's current slab) found the slab full
 * before it (unfull) or left it empty (a spare, or released), or both. */
void hk_slab_unfull_or_retire(hk_heap *h, hk_slab *s) {
  if (s->used == 0 && !is_retained(h, s)) keep_spare(h, s);
  else if (s->full) unfull_slab(h, s, AT_TAIL);
}

static HK_NOINLINE void free_remote_unbatched(hk_heap *h, hk_slab *s, hk_block *b);
static HK_NOINLINE void free_batched_abandoned(hk_heap *h, hk_slab *s, hk_block *b);

/* b, of another heap's (head) slab s, gathered for its owner in h's batches;
 * one into the heap of an exited thread counts towards reclaiming those heaps
 * (hk_freed_into_abandoned). */
static inline void free_batched(hk_heap *h, hk_slab *s, hk_block *b) {
  if (HK_LIKELY(__atomic_load_n(&s->owner->is_live, __ATOMIC_RELAXED))) hk_remote_free_batched(h, s, b);
  else free_batched_abandoned(h, s, b);
}

/* b, of another heap's (head) slab s, to its owner: gathered in a message, or pushed. */
static inline void free_to_owner(hk_heap *h, hk_slab *s, hk_block *b) {
  if (HK_LIKELY(g_hk.remote_batch) && HK_LIKELY(h != &hk_empty_heap)) free_batched(h, s, b);
  else free_remote_unbatched(h, s, b);
}

/* A free the inline path did not take: another thread's slab (its thread
 * cache full or off), misuse, or any free in check and secure modes. A leaf
 * whose every case is a tail call: the remote free of a block smaller than a
 * cache line (bench_server_handoff: about one free in fifteen) built a stack
 * frame here while one case made a call. */
void hk_free_other(hk_slab *s, hk_block *b) {
  /* No owner: an unformatted slab (formatting sets the class and the owner,
   * retiring clears both), or, for an arena address the inline free took
   * without the registry, no SuperSlab at all (internal.h, hk_ss_arena):
   * large blocks are never in the arena, so such a pointer is none of ours. */
  if (HK_UNLIKELY(s->owner == NULL)) {
    uintptr_t a = (uintptr_t)b;
    hk_report_invalid_free(b, !hk_registry_has(a) ? HAK_BLOCK_FOREIGN : a & 15 ? HAK_BLOCK_INTERIOR : HAK_BLOCK_FREE);
    return;
  }
  hk_heap *h = hk_tl.heap;
  s = hk_slab_head(s);
  if (HK_UNLIKELY(!hk_block_start_ok_in_ss(s, (uintptr_t)b))) {
    hk_report_invalid_free(b, HAK_BLOCK_INTERIOR);
    return;
  }
  if (s->owner == h) { /* off the inline path: check or secure mode, validated frees (hk_free_slab_block_slow) */
    free_own_block(h, s, b);
    return;
  }
  if (s->shareable) free_shareable_uncached(h, s, b);
  else free_to_owner(h, s, b);
}

/* free_shareable_uncached where the bound may grow: b into the cache if it
 * does, else to its owner. */
static HK_NOINLINE void free_shareable_grown(hk_heap *h, hk_slab *s, hk_block *b) {
  enum hk_tc_pushed r = tc_push_grown(h, s->cls, b);
  if (r == HK_TC_PUSHED) {
    h->remote_frees++;
    return;
  }
  if (r == HK_TC_REPEATED) hk_report_invalid_free(b, HAK_BLOCK_FREE); /* the block at the cache's top, freed again */
  else free_to_owner(h, s, b);
}

/* A block of another heap's shareable slab that h's thread cache had no room
 * for: the bound may grow; else it goes to its owner. A leaf whose cases are
 * tail calls: a consumer takes it on every free. */
static HK_NOINLINE void free_shareable_uncached(hk_heap *h, hk_slab *s, hk_block *b) {
  if (HK_UNLIKELY(tc_may_grow(h, s->cls))) free_shareable_grown(h, s, b);
  else free_to_owner(h, s, b);
}

static HK_NOINLINE void free_batched_abandoned(hk_heap *h, hk_slab *s, hk_block *b) {
  hk_remote_free_batched(h, s, b);
  hk_freed_into_abandoned();
}

/* A remote free by a thread without a heap, or with batching off (out of
 * line: hk_free_other stays a leaf that tail-calls). */
static HK_NOINLINE void free_remote_unbatched(hk_heap *h, hk_slab *s, hk_block *b) {
  if (g_hk.remote_batch && !tl_heap_exited) {
    /* A thread that only frees needs a heap for its batches (remote.c). */
    hk_heap *made = hk_heap_get();
    if (made && made == s->owner) { /* it adopted the abandoned heap that owns s */
      free_own_block(made, s, b);
      return;
    }
    if (made) {
      free_batched(made, s, b);
      return;
    }
  }
  unsigned c = s->cls; /* read before the push: afterwards the owner may release the slab */
  hk_heap *owner = s->owner; /* heaps are never unmapped: safe to read after the push */
  if (!hk_remote_push(s, b)) return;
  if (h != &hk_empty_heap) {
    h->remote_frees++;
    h->nfree[c]++;
  } else {
    HK_COUNT(remote_frees_unowned, 1);
    HK_COUNT(nfree_unowned[c], 1);
  }
  if (HK_UNLIKELY(owner && !__atomic_load_n(&owner->is_live, __ATOMIC_RELAXED))) hk_freed_into_abandoned();
}

/* Counted per thread: every so many remote frees into abandoned heaps, the
 * freeing thread collects them, so memory that exited threads left behind
 * and others free goes back without waiting for a malloc_trim. */
#define RECLAIM_EVERY_FREES 4096
void hk_freed_into_abandoned(void) {
  static __thread uint32_t frees;
  if (++frees % RECLAIM_EVERY_FREES) return;
  hk_remote_flush(hk_tl.heap); /* what this thread gathered for those heaps reaches their inboxes first */
  hk_heap_trim(NULL);
}

/* Releases every empty slab of h (if any), of the exit heap and of all
 * abandoned heaps; whole empty SuperSlabs go to the LRU cache. */
void hk_heap_trim(hk_heap *h) {
  if (h) collect_all(h, RETIRE_EMPTY_CURRENT);
  hk_mutex_lock(&exit_heap_lock);
  if (exit_heap) collect_all(exit_heap, RETIRE_EMPTY_CURRENT);
  hk_mutex_unlock(&exit_heap_lock);
  unsigned abandoned = 0;
  hk_lock(&heaps_lock, HK_LOCK_HEAPS);
  for (hk_heap *a = heaps_abandoned; a; a = a->abandoned_next) abandoned++;
  hk_unlock(&heaps_lock);
  reclaim_abandoned(abandoned);
}

/* ---- heap lifecycle -------------------------------------------------------------- */
/* h becomes the calling thread's heap (or none: hk_empty_heap, whose table
 * is the coarse one), with its class table. */
static void thread_take_heap(hk_heap *h) {
  hk_tl.heap = h;
  memcpy(hk_tl.tc_of, h->tc_of, sizeof hk_tl.tc_of);
}

static void heap_thread_exit(void *arg) {
  hk_heap *h = arg;
  collect_all(h, RETIRE_EMPTY_CURRENT);
  h->caches_flushed = 1;
  __atomic_store_n(&h->is_live, 0, __ATOMIC_RELAXED);
  atomic_fetch_sub_explicit(&heaps_live, 1, memory_order_relaxed);
  thread_take_heap(&hk_empty_heap);
  tl_heap_exited = 1;
  hk_lock(&heaps_lock, HK_LOCK_HEAPS);
  h->abandoned_next = heaps_abandoned;
  heaps_abandoned = h;
  hk_unlock(&heaps_lock);
  HK_COUNT(heaps_abandoned, 1);
}

/* Where in its page a heap starts. Every slab's first block is at the start
 * of a page (slabs are 64 KiB aligned), and the first blocks of each class
 * are the ones a small program reuses all the time; a heap at a page's start
 * put the stores to its thread cache's heads (h->tc[c]) at the same page
 * offsets. A load or prefetch after a store to an address 4 KiB apart waits
 * for it (4K aliasing): freeing and reallocating one 16-byte block (tiny_hot)
 * ran 7% slower with the prefetch the free then made (297 against 318-321 M pairs/s at
 * page offsets 0x400, 0x800 and 0xc40). At 0x400 the heap's stores of every
 * free and allocation (tc, tc_room, remote_frees) miss the page's first
 * 0.8 KiB, where the first blocks of every small class are. The metadata
 * area gives up to a page more for it (the heap, 19 KiB, spans six pages
 * from there, five from a page's start). */
#define HK_HEAP_PAGE_OFFSET 0x400u

/* A new heap, on the list of all heaps (for statistics). */
static hk_heap *heap_new(bool thread_cache) {
  uint8_t *mem = hk_meta_alloc(sizeof(hk_heap) + HK_PAGE_SIZE);
  if (!mem) return NULL;
  hk_heap *h = (hk_heap *)(mem + ((HK_HEAP_PAGE_OFFSET - (uintptr_t)mem) & (HK_PAGE_SIZE - 1)));
  for (unsigned c = 0; c < HK_NCLASSES; c++) h->current[c] = &hk_empty_slab;
  memcpy(h->class_small, hk_empty_heap.class_small, sizeof h->class_small); /* the coarse classes */
  class_table_changed(h);
  h->has_tc = thread_cache;
  HK_ASSERT(tc_bounds_made, "the bounds of every class were worked out before the first heap");
  memcpy(h->tc_max, tc_max_of, sizeof h->tc_max); /* the other bounds start at 0: closed (tc_open_class) */
  hk_lock(&heaps_lock, HK_LOCK_HEAPS);
  h->all_next = heaps_all;
  __atomic_store_n(&heaps_all, h, __ATOMIC_RELEASE); /* take_from_idle_heaps walks the list without the lock */
  hk_unlock(&heaps_lock);
  return h;
}

/* The allocation of a thread whose heap is abandoned already: from the exit
 * heap, which no thread owns (frees into it are remote frees, collected when
 * it refills or is trimmed). */
static void *alloc_after_exit(unsigned c) {
  void *p = NULL;
  hk_mutex_lock(&exit_heap_lock);
  if (!exit_heap && (exit_heap = heap_new(false)) != NULL) { /* shared under a lock: no thread cache */
    exit_heap->is_shared = 1;
    __atomic_store_n(&exit_heap->is_live, 1, __ATOMIC_RELAXED);
  }
  if (exit_heap) p = alloc_from(exit_heap, c);
  hk_mutex_unlock(&exit_heap_lock);
  if (!p) errno = ENOMEM;
  return p;
}

hk_heap *hk_heap_get(void) {
  hk_heap *h = hk_tl.heap;
  if (h != &hk_empty_heap) return h;
  hk_init();
  hk_lock(&heaps_lock, HK_LOCK_HEAPS);
  if (HK_UNLIKELY(!heap_key_made)) heap_key_made = pthread_key_create(&heap_key, heap_thread_exit) == 0;
  if (HK_UNLIKELY(!tc_bounds_made)) tc_make_bounds();
  h = heaps_abandoned;
  if (h) heaps_abandoned = h->abandoned_next;
  hk_unlock(&heaps_lock);
  if (h) {
    HK_COUNT(heaps_adopted, 1);
    collect_abandoned(h, KEEP_EMPTY_CURRENT); /* what other threads freed into it meanwhile */
  } else if (!(h = heap_new(g_hk.thread_cache))) {
    return NULL;
  }
  h->abandoned_next = NULL;
  h->caches_flushed = 0; /* its thread writes them from now on */
  __atomic_store_n(&h->is_live, 1, __ATOMIC_RELAXED);
  atomic_fetch_add_explicit(&heaps_live, 1, memory_order_relaxed);
  HK_COUNT(threads_started, 1);
  /* Set before pthread_setspecific, which may itself allocate. */
  thread_take_heap(h);
  pthread_setspecific(heap_key, h);
  return h;
}

void hk_heaps_lock(void) { hk_mutex_lock(&heaps_lock); }
void hk_heaps_unlock(void) { hk_mutex_unlock(&heaps_lock); }
hk_heap *hk_heaps_first(void) { return heaps_all; }

/* fork: the child keeps only the forking thread; the other threads' heaps are
 * abandoned so that new threads in the child adopt their memory. */
void hk_heap_fork_prepare(void) {
  pthread_mutex_lock(&exit_heap_lock);
  pthread_mutex_lock(&heaps_lock);
  pthread_mutex_lock(&idle_pools_lock); /* innermost: taken under the exit heap's lock (hk_heap_trim) */
}
void hk_heap_fork_parent(void) {
  pthread_mutex_unlock(&idle_pools_lock);
  pthread_mutex_unlock(&heaps_lock);
  pthread_mutex_unlock(&exit_heap_lock);
}
/* The thread caches of a heap whose thread does not exist in a fork child,
 * dropped rather than walked: that thread may have stopped inside a push or
 * a pop (the room taken, the list not yet linked), or pages copied at
 * different moments may show a head before its link, so neither the count
 * nor the links can be trusted (a reclaim that walked them crashed the
 * child, fork_threads). The blocks stay counted as used in their slabs, and
 * as freed in the statistics: at most the caches' bounds, in the child only. */
static void tc_drop(hk_heap *h) {
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    uint64_t room = h->tc_room[c]; /* all ones only inside a push that found no room: none */
    uint32_t held = room > h->tc_limit[c] ? h->tc_limit[c] : h->tc_limit[c] - (uint32_t)room;
    h->tc[c] = NULL;
    h->tc_room[c] = h->tc_limit[c];
    h->tc_push_base[c] += held; /* left the cache other than by pops */
  }
  for (unsigned i = 0; i < HK_ABOVE_SLOTS; i++) /* dropped as the caches: pool_take_above */
    if (h->above[i].count) above_set(h, &h->above[i], 0); /* which gives the class its current slab back */
  h->above_held = 0; /* whatever the thread was doing when the fork came */
}

/* In the child, before the locks are released: the heaps of threads that do
 * not exist here are abandoned, so new threads in the child adopt them. */
void hk_heap_fork_child(void) {
  for (hk_heap *h = heaps_all; h; h = h->all_next) {
    if (h->is_live && !h->is_shared && h != hk_tl.heap) {
      tc_drop(h);
      /* its thread may have stopped between giving a slot a message or a
       * class a slab and marking it: the collection visits them all */
      h->remote_slots_used = ~0ull;
      memset(h->classes_used, 0xff, sizeof h->classes_used);
      h->is_live = 0;
      atomic_fetch_sub_explicit(&heaps_live, 1, memory_order_relaxed);
      h->abandoned_next = heaps_abandoned;
      heaps_abandoned = h;
    }
  }
}
