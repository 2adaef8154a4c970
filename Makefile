# hakmem build.
#   make            libraries, seed benchmarks and C tests into build/
#   make check      build, then run every C test
#   make clean
CC      ?= gcc
OPT     ?= -O2
BUILD   ?= build
WARN    := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
CFLAGS_LIB := -std=gnu11 $(OPT) -g -fPIC -fvisibility=hidden -pthread \
              -fno-semantic-interposition -fno-stack-protector -ftls-model=initial-exec \
              $(WARN) -Icsrc/include -Icsrc $(EXTRA_CFLAGS)
LDFLAGS_LIB := -shared -pthread -Wl,-z,now -Wl,--no-undefined -ldl $(EXTRA_LDFLAGS)

CORE_SRCS := $(filter-out csrc/preload.c,$(wildcard csrc/*.c))
HEADERS   := $(wildcard csrc/*.h csrc/include/*.h)

BENCH_SRCS := $(wildcard bench/native/*.c)
BENCH_BINS := $(patsubst bench/native/%.c,$(BUILD)/%,$(BENCH_SRCS))
TEST_SRCS  := $(wildcard csrc/tests/test_*.c)
TEST_BINS  := $(patsubst csrc/tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

.PHONY: all libs bench tests check clean
all: libs bench tests
libs: $(BUILD)/libhakmem.so $(BUILD)/libhakmem_preload.so
bench: $(BENCH_BINS)
tests: $(TEST_BINS)

$(BUILD):
	@mkdir -p $@

# The FFI library: hak_* only; never replaces the host's malloc.
$(BUILD)/libhakmem.so: $(CORE_SRCS) $(HEADERS) Makefile | $(BUILD)
	$(CC) $(CFLAGS_LIB) -o $@ $(CORE_SRCS) $(LDFLAGS_LIB)

# The drop-in malloc for LD_PRELOAD: the same core plus the malloc family.
$(BUILD)/libhakmem_preload.so: $(CORE_SRCS) csrc/preload.c $(HEADERS) Makefile | $(BUILD)
	$(CC) $(CFLAGS_LIB) -DHAK_PRELOAD=1 -o $@ $(CORE_SRCS) csrc/preload.c $(LDFLAGS_LIB)

# Seed benchmarks call plain malloc/free: one binary measures any allocator via LD_PRELOAD.
$(BUILD)/%: bench/native/%.c | $(BUILD)
	$(CC) -std=gnu11 -O2 -g -pthread -Wall -o $@ $< -lm

# C unit tests link the FFI library (their own folder: build/test_scaling is a benchmark).
$(BUILD)/tests/test_%: csrc/tests/test_%.c csrc/tests/check.h $(BUILD)/libhakmem.so
	@mkdir -p $(BUILD)/tests
	$(CC) -std=gnu11 -O1 -g -pthread -Wall -Icsrc/include -Icsrc/tests -o $@ $< \
	    -L$(BUILD) -lhakmem -Wl,-rpath,'$$ORIGIN/..'

check: all
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; $$t; done

clean:
	rm -rf $(BUILD)
