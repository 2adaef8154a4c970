# hakmem build.
#   make            libraries, seed benchmarks, C tests, the stress test and the
#                   misuse programs into build/
#   make check      build, check the layering (make layers), then run every C test
#   make asan       library + C tests + stress with AddressSanitizer and UBSan
#                   (build/asan/), then run them; fails on any report
#   make tsan       the same with ThreadSanitizer (build/tsan/)
#   make debug      the same with the invariant checks (HK_ASSERT) only (build/debug/)
#   make soak       the stress test for a long time (SOAK_THREADS, SOAK_SECONDS)
#   make fuzz       the libFuzzer target (clang) into build/fuzz/
#   make fuzz-run   run it for FUZZ_SECONDS on the seed corpus
#   make prebuilt   what the npm package carries: the libraries, runstat and the
#                   benchmark programs for each of PREBUILT_PLATFORMS, under
#                   build/prebuilt/<platform>/ (npm pack runs it)
#   make clean
CC      ?= gcc
OPT     ?= -O2
BUILD   ?= build
# Sanitizer flags for the library, the C tests and the stress test (set by
# `make asan` / `make tsan`, each with its own BUILD folder).
SANITIZE ?=
WARN    := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
CFLAGS_LIB := -std=gnu11 $(OPT) -g -fPIC -fvisibility=hidden -pthread \
              -fno-semantic-interposition -fno-stack-protector -ftls-model=initial-exec \
              $(WARN) -Icsrc/include -Icsrc $(SANITIZE) $(EXTRA_CFLAGS)
# -z nodelete: a dlopen()ed allocator must never be unmapped while blocks or
# thread heaps (with their exit destructors) still point into it (Deno, Bun).
LDFLAGS_LIB := -shared -pthread -Wl,-z,now -Wl,-z,nodelete -Wl,--no-undefined -ldl $(SANITIZE) $(EXTRA_LDFLAGS)

PRELOAD_SRCS := csrc/preload.c csrc/preload_cxx.c
CORE_SRCS := $(filter-out $(PRELOAD_SRCS),$(wildcard csrc/*.c))
HEADERS   := $(wildcard csrc/*.h csrc/include/*.h)

BENCH_SRCS := $(wildcard bench/native/*.c)
BENCH_BINS := $(patsubst bench/native/%.c,$(BUILD)/%,$(BENCH_SRCS))
TEST_SRCS  := $(wildcard csrc/tests/test_*.c)
TEST_BINS  := $(patsubst csrc/tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
MISUSE_SRCS := $(wildcard tests/misuse/*.c)
MISUSE_BINS := $(patsubst tests/misuse/%.c,$(BUILD)/misuse/%,$(MISUSE_SRCS))
ADV_SRCS    := $(filter-out tests/adversarial/lib%.c,$(wildcard tests/adversarial/*.c))
ADV_BINS    := $(patsubst tests/adversarial/%.c,$(BUILD)/adversarial/%,$(ADV_SRCS))

.PHONY: all libs bench tests stress misuse adversarial check layers tls clean
all: libs bench tests stress misuse adversarial
libs: $(BUILD)/libhakmem.so $(BUILD)/libhakmem_preload.so
bench: $(BENCH_BINS)
tests: $(TEST_BINS)
stress: $(BUILD)/stress
misuse: $(MISUSE_BINS)
adversarial: $(ADV_BINS)

$(BUILD):
	@mkdir -p $@

# The FFI library: hak_* only; never replaces the host's malloc.
$(BUILD)/libhakmem.so: $(CORE_SRCS) $(HEADERS) Makefile | $(BUILD)
	$(CC) $(CFLAGS_LIB) -o $@.tmp $(CORE_SRCS) $(LDFLAGS_LIB) && mv -f $@.tmp $@

# The drop-in malloc for LD_PRELOAD: the same core plus the malloc family and C++'s new and delete.
$(BUILD)/libhakmem_preload.so: $(CORE_SRCS) $(PRELOAD_SRCS) $(HEADERS) Makefile | $(BUILD)
	$(CC) $(CFLAGS_LIB) -o $@.tmp $(CORE_SRCS) $(PRELOAD_SRCS) $(LDFLAGS_LIB) && mv -f $@.tmp $@

# Seed benchmarks call plain malloc/free: one binary measures any allocator via LD_PRELOAD.
$(BUILD)/%: bench/native/%.c $(wildcard bench/native/*.h) | $(BUILD)
	$(CC) -std=gnu11 -D_GNU_SOURCE -O2 -g -pthread -Wall -o $@ $< -lm

# C unit tests link the FFI library (their own folder: build/test_scaling is a benchmark).
$(BUILD)/tests/test_%: csrc/tests/test_%.c csrc/tests/check.h $(BUILD)/libhakmem.so
	@mkdir -p $(BUILD)/tests
	$(CC) -std=gnu11 -O1 -g -pthread -Wall $(SANITIZE) -Icsrc/include -Icsrc/tests -o $@ $< \
	    -L$(BUILD) -lhakmem -Wl,-rpath,'$$ORIGIN/..'

# Multi-threaded stress test: build/stress THREADS SECONDS [SEED].
$(BUILD)/stress: csrc/tests/stress.c csrc/tests/check.h $(BUILD)/libhakmem.so
	$(CC) -std=gnu11 -O2 -g -pthread $(WARN) $(SANITIZE) -Icsrc/include -Icsrc/tests -o $@ $< \
	    -L$(BUILD) -lhakmem -Wl,-rpath,'$$ORIGIN'

# Misuse programs: plain malloc/free, run under LD_PRELOAD=libhakmem_preload.so
# by tests/hardening.test.ts. -fno-builtin keeps the compiler from reasoning
# about (and removing) the invalid frees.
$(BUILD)/misuse/%: tests/misuse/%.c $(wildcard tests/misuse/*.h)
	@mkdir -p $(BUILD)/misuse
	$(CC) -std=gnu11 -O1 -g -fno-builtin -pthread -Wall -Wno-free-nonheap-object \
	    -Wno-use-after-free -o $@ $<

# Adversarial programs: plain C (threads, fork, atfork handlers, key
# destructors) run under LD_PRELOAD by tests/adversarial.test.ts. atfork_alloc
# links a library whose constructor registers allocating atfork handlers.
ADV_CFLAGS := -std=gnu11 -O1 -g -fno-builtin -pthread -Wall
$(BUILD)/adversarial/libatfork_alloc.so: tests/adversarial/libatfork_alloc.c
	@mkdir -p $(BUILD)/adversarial
	$(CC) $(ADV_CFLAGS) -fPIC -shared -o $@ $<
$(BUILD)/adversarial/atfork_alloc: tests/adversarial/atfork_alloc.c tests/adversarial/adversarial.h \
    $(BUILD)/adversarial/libatfork_alloc.so
	$(CC) $(ADV_CFLAGS) -o $@ $< -L$(BUILD)/adversarial -latfork_alloc -Wl,-rpath,'$$ORIGIN'
$(BUILD)/adversarial/%: tests/adversarial/%.c tests/adversarial/adversarial.h
	@mkdir -p $(BUILD)/adversarial
	$(CC) $(ADV_CFLAGS) -o $@ $<

# The C tests assert the default configuration, so they run without the
# caller's HAKMEM_* variables (as bun test runs them, tests/support.ts): a
# HAKMEM_SECURE=1 left in a shell turned batching off under test_remote_batch.
TEST_ENV := env $(foreach v,$(filter HAKMEM_%,$(.VARIABLES)),-u $(v))
check: all layers tls
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; $(TEST_ENV) $$t; done

# The layer check (csrc/tests/check_layers.sh): each file compiled alone, as
# in the libraries, then its uses of other files' symbols read with nm.
LAYER_OBJS := $(patsubst csrc/%.c,$(BUILD)/objs/%.o,$(wildcard csrc/*.c))
$(BUILD)/objs/%.o: csrc/%.c $(HEADERS) Makefile
	@mkdir -p $(BUILD)/objs
	$(CC) $(CFLAGS_LIB) -c -o $@ $<
layers: $(LAYER_OBJS)
	csrc/tests/check_layers.sh $(BUILD)/objs csrc/internal.h csrc

# The FFI library's static TLS within what a dlopened library can count on (csrc/tests/check_tls.sh).
tls: $(BUILD)/libhakmem.so
	csrc/tests/check_tls.sh $(BUILD)/libhakmem.so

# ---- sanitizers ------------------------------------------------------------
# Each builds libhakmem.so, the C tests and the stress test with the sanitizer
# into its own folder (gcc links the sanitizer runtime into the shared library
# too, which -Wl,--no-undefined needs), then runs them; any report aborts the
# process, so the target fails. The tests call hak_* directly, so the
# sanitizer's own malloc stays in place for libc; hakmem's blocks come from its
# own mmap regions, which ASan does not poison and LeakSanitizer does not scan
# for leaks: a leaked hakmem block is invisible to it (bytes_in_use and the
# stress test's end check cover that). What LSan does see is libc malloc in the
# tests themselves.
SAN_STRESS ?= 4 8
# gcc: it links the sanitizer runtime into the shared library (clang would not).
SAN_CC     ?= gcc
ASAN_DIR   := build/asan
TSAN_DIR   := build/tsan
# The sanitizer, fuzz and debug builds check the invariants (HK_ASSERT, -DHK_DEBUG).
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DHK_DEBUG
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer -DHK_DEBUG
DEBUG_DIR  := build/debug
# quarantine_size_mb: ASan holds freed libc memory (the tests' own, and glibc's
# per-thread allocations) in a quarantine, 256 MiB by default; with 10,000
# short-lived threads that shows up in the RSS the tests assert about, though
# none of it is hakmem's (hakmem's blocks never pass through ASan's malloc).
# CHECK_TIMEOUT_SCALE stretches the C tests' hang guards (csrc/tests/check.h):
# under TSan the 10,000-thread test takes about 3 minutes on 2 idle cores and
# 9 (550 s of CPU) when the cores are shared, the same before and after the
# changes of 2026-11-30; its child's guard at scale 5 (600 s) fired once in a
# CI run on a loaded machine, so TSan's scale is 10 (a hang still fails).
ASAN_ENV   := ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:quarantine_size_mb=16 \
              UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 CHECK_TIMEOUT_SCALE=3
# Suppressions: csrc/tests/tsan.supp, each entry with its reason.
TSAN_ENV   := TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/csrc/tests/tsan.supp \
              CHECK_TIMEOUT_SCALE=10
SAN_BUILD   = $(MAKE) --no-print-directory CC=$(SAN_CC) BUILD=$(1) OPT=-O1 SANITIZE="$(2)" \
              $(1)/libhakmem.so $(patsubst $(BUILD)/%,$(1)/%,$(TEST_BINS)) $(1)/stress
# Runs every test even after a failure (a later one may hold the report that
# explains it), then fails if any did. The stress test runs twice: remote frees
# pushed one by one (libhakmem.so's default), and sent in batches with thread
# caches on (the preload library's default).
SAN_RUN     = failed=""; for t in $(patsubst $(BUILD)/%,$(1)/%,$(TEST_BINS)); do echo "== $$t"; \
              $(TEST_ENV) $(2) $$t || failed="$$failed $$t"; done; \
              echo "== $(1)/stress $(SAN_STRESS)"; $(TEST_ENV) $(2) $(1)/stress $(SAN_STRESS) || failed="$$failed $(1)/stress"; \
              echo "== HAKMEM_REMOTE_BATCH=on HAKMEM_THREAD_CACHE=on $(1)/stress $(SAN_STRESS)"; \
              $(TEST_ENV) $(2) HAKMEM_REMOTE_BATCH=on HAKMEM_THREAD_CACHE=on $(1)/stress $(SAN_STRESS) || \
                failed="$$failed $(1)/stress(batched)"; \
              if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi

.PHONY: asan tsan asan-build tsan-build debug soak fuzz fuzz-run
# make debug: the library, the C tests and the stress test with the invariant
# checks (HK_ASSERT) into build/debug/, then the C tests and the stress test
# run (no sanitizer: at full speed).
debug:
	$(MAKE) --no-print-directory BUILD=$(DEBUG_DIR) EXTRA_CFLAGS=-DHK_DEBUG \
	    $(DEBUG_DIR)/libhakmem.so $(patsubst $(BUILD)/%,$(DEBUG_DIR)/%,$(TEST_BINS)) $(DEBUG_DIR)/stress
	@set -e; for t in $(patsubst $(BUILD)/%,$(DEBUG_DIR)/%,$(TEST_BINS)); do echo "== $$t"; $(TEST_ENV) $$t; done
	$(TEST_ENV) $(DEBUG_DIR)/stress 4 10
	$(TEST_ENV) HAKMEM_REMOTE_BATCH=on HAKMEM_THREAD_CACHE=on $(DEBUG_DIR)/stress 4 10
	@echo "debug: every test passed, no invariant broken"
asan-build:
	$(call SAN_BUILD,$(ASAN_DIR),$(ASAN_FLAGS))
tsan-build:
	$(call SAN_BUILD,$(TSAN_DIR),$(TSAN_FLAGS))
asan: asan-build
	@$(call SAN_RUN,$(ASAN_DIR),$(ASAN_ENV))
	@echo "asan: every test passed, no sanitizer report"
tsan: tsan-build
	@$(call SAN_RUN,$(TSAN_DIR),$(TSAN_ENV))
	@echo "tsan: every test passed, no sanitizer report"

# ---- soak ------------------------------------------------------------------
SOAK_THREADS ?= 8
SOAK_SECONDS ?= 600
soak: $(BUILD)/stress
	$(BUILD)/stress $(SOAK_THREADS) $(SOAK_SECONDS)

# ---- fuzzing (clang with libFuzzer) ------------------------------------------
# The library sources are compiled into the fuzzer, so its coverage guides it.
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -std=gnu11 -O1 -g -pthread $(WARN) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer -DHK_DEBUG -Icsrc/include -Icsrc
fuzz: $(FUZZ_DIR)/fuzz_alloc
$(FUZZ_DIR)/fuzz_alloc: csrc/fuzz/fuzz_alloc.c $(CORE_SRCS) $(HEADERS) Makefile
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ csrc/fuzz/fuzz_alloc.c $(CORE_SRCS) -ldl
# New inputs go to build/fuzz/corpus; csrc/fuzz/corpus (the seeds) is only read.
fuzz-run: $(FUZZ_DIR)/fuzz_alloc
	@mkdir -p $(FUZZ_DIR)/corpus
	$(ASAN_ENV) $(FUZZ_DIR)/fuzz_alloc -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 \
	    -max_len=4096 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus csrc/fuzz/corpus

# ---- the package's prebuilt files ---------------------------------------------
# One folder per platform (Node's names), each built by a sub-make with that
# platform's compiler: gcc for the host, Debian's cross compiler for the other
# (apt-get install gcc-aarch64-linux-gnu, or gcc-x86-64-linux-gnu on arm64).
# Without a cross compiler, `npm pack` (and npm's install from a git
# repository, which runs prepack) carries the host's platform only and says
# so; `npm publish` (npm_command=publish) stops instead: a published package
# carries every platform. No debug information: it would triple the package.
# library.js lets the Bun bindings reach the library through an import that
# `bun build` follows, so `bun build --compile` embeds it (src/bun-library.ts).
PREBUILT_DIR       := $(BUILD)/prebuilt
PREBUILT_PLATFORMS ?= linux-x64 linux-arm64
HOST_ARCH          := $(shell uname -m)
HOST_PLATFORM      := linux-$(if $(filter aarch64,$(HOST_ARCH)),arm64,$(if $(filter x86_64,$(HOST_ARCH)),x64,$(HOST_ARCH)))
CC_linux-x64       ?= $(if $(filter x86_64,$(HOST_ARCH)),gcc,x86_64-linux-gnu-gcc)
CC_linux-arm64     ?= $(if $(filter aarch64,$(HOST_ARCH)),gcc,aarch64-linux-gnu-gcc)

.PHONY: prebuilt
prebuilt: $(addprefix prebuilt-,$(PREBUILT_PLATFORMS))
prebuilt-%:
	@if ! command -v $(CC_$*) >/dev/null 2>&1; then \
	  echo "make prebuilt: $(CC_$*), the C compiler for $*, is not installed (Debian: apt-get install gcc-aarch64-linux-gnu, or gcc-x86-64-linux-gnu on arm64)" >&2; \
	  if [ "$${npm_command:-}" = publish ] || [ "$*" = "$(HOST_PLATFORM)" ]; then exit 1; fi; \
	  echo "make prebuilt: WARNING: the package will carry no $* files (npm publish stops here)" >&2; exit 0; \
	fi; \
	$(MAKE) --no-print-directory BUILD=$(PREBUILT_DIR)/$* CC=$(CC_$*) EXTRA_CFLAGS=-g0 libs bench && \
	printf '%s\n' '// Written by make prebuilt: the path of the library next to this file, as bun build sees it.' \
	    'import path from "./libhakmem.so" with { type: "file" };' 'export default path;' > $(PREBUILT_DIR)/$*/library.js

clean:
	rm -rf $(BUILD)
