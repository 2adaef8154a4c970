// Every form of C++'s operators new and delete, run with the system allocator
// and under LD_PRELOAD=libhakmem_preload.so (tests/preload.test.ts): stdout
// must be the same. On stderr it names the library each operator resolves to,
// which under the preload library must be hakmem's.
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <new>
#include <string>
#include <vector>

struct alignas(64) Line {
  char bytes[64];
};
struct alignas(4096) Page {
  char bytes[100];
};

static int handler_calls;
static void give_up() {
  handler_calls++;
  std::set_new_handler(nullptr);  // the next failure throws
}

static const size_t HUGE_SIZE = SIZE_MAX / 4;  // no allocator can map it

static bool aligned_to(const void *p, size_t alignment) { return reinterpret_cast<uintptr_t>(p) % alignment == 0; }

int main() {
  std::map<std::string, std::vector<int>> m;
  for (int i = 0; i < 20000; i++) m[std::to_string(i * 7919 % 10007)].push_back(i);
  unsigned long sum = 0;
  for (const auto &kv : m) sum += kv.first.size() * kv.second.size();
  std::printf("map: %zu keys, %lu\n", m.size(), sum);

  unsigned long arrays = 0;
  for (int n = 1; n <= 2000; n++) {
    int *a = new int[n];  // delete[]: sized where the type has a destructor, plain here
    a[n - 1] = n;
    arrays += a[n - 1];
    delete[] a;
    std::string *s = new std::string(n, 'x');  // sized delete (C++14)
    arrays += s->size();
    delete s;
  }
  std::printf("arrays and strings: %lu\n", arrays);

  bool aligned = true;
  for (int i = 0; i < 1000; i++) {
    Line *line = new Line;
    Page *page = new Page;
    Line *lines = new Line[3];
    aligned = aligned && aligned_to(line, 64) && aligned_to(page, 4096) && aligned_to(lines, 64);
    delete line;
    delete page;
    delete[] lines;
  }
  std::printf("over-aligned new: %s\n", aligned ? "aligned" : "MISALIGNED");

  void *small = ::operator new(24, std::nothrow);
  std::printf("nothrow new of 24 bytes: %s\n", small ? "a block" : "null");
  ::operator delete(small, std::nothrow);
  void *wide = ::operator new[](100, std::align_val_t(256), std::nothrow);
  std::printf("nothrow aligned new[]: %s\n", wide && aligned_to(wide, 256) ? "aligned block" : "WRONG");
  ::operator delete[](wide, std::align_val_t(256));
  std::printf("nothrow new of a huge size: %s\n", ::operator new(HUGE_SIZE, std::nothrow) ? "a block" : "null");
  std::printf("nothrow aligned new of a huge size: %s\n",
              ::operator new(HUGE_SIZE, std::align_val_t(64), std::nothrow) ? "a block" : "null");

  try {
    std::printf("new of a huge size returned %p\n", ::operator new(HUGE_SIZE));
  } catch (const std::bad_alloc &) {
    std::printf("new of a huge size: bad_alloc\n");
  }
  try {
    std::printf("aligned new[] of a huge size returned %p\n", ::operator new[](HUGE_SIZE, std::align_val_t(64)));
  } catch (const std::bad_alloc &) {
    std::printf("aligned new[] of a huge size: bad_alloc\n");
  }
  std::set_new_handler(give_up);
  try {
    std::printf("new with a handler returned %p\n", ::operator new(HUGE_SIZE));
  } catch (const std::bad_alloc &) {
    std::printf("new with a handler: bad_alloc after %d handler call(s)\n", handler_calls);
  }

  static const char *const operators[] = {
      "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",
      "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
      "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
      "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
      "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t"};
  for (const char *name : operators) {
    Dl_info info{};
    void *f = dlsym(RTLD_DEFAULT, name);
    std::fprintf(stderr, "%s from %s\n", name, f && dladdr(f, &info) && info.dli_fname ? info.dli_fname : "nowhere");
  }
  return 0;
}
