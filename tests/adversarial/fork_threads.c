/* fork() from several threads while others allocate in every tier; each child
 * allocates, frees, starts a thread of its own and exits.
 *   fork_threads [FORKS_PER_THREAD]   default 20, from 2 forking threads
 * Pass: every child exits 0 (a hang is a lock copied held into the child). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include "adversarial.h"

static atomic_int stop;
static int forks_per_thread = 20;
static const size_t sizes[] = {24, 200, 3000, 20000, 150000, 2 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void churn(unsigned seed, int rounds) {
  void *keep[32] = {0};
  for (int i = 0; i < rounds; i++) {
    seed = seed * 1103515245u + 12345u;
    unsigned slot = (seed >> 8) % 32;
    free(keep[slot]);
    keep[slot] = malloc(sizes[(seed >> 16) % NSIZES]);
    if (!keep[slot]) fail("malloc = NULL");
    memset(keep[slot], (int)slot, 16);
  }
  for (int i = 0; i < 32; i++) free(keep[i]);
}

static void *child_thread(void *arg) {
  churn(7, 200);
  return arg;
}

static void *forker(void *arg) {
  for (int i = 0; i < forks_per_thread; i++) {
    pid_t pid = fork();
    if (pid < 0) fail("fork: %s", strerror(errno));
    if (pid == 0) {
      churn((unsigned)i, 200);
      pthread_t t;
      if (pthread_create(&t, NULL, child_thread, NULL) || pthread_join(t, NULL)) _exit(3);
      _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail("child exited with status 0x%x", status);
  }
  return arg;
}

static void *allocator(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  while (!atomic_load(&stop)) churn(seed++, 500);
  return arg;
}

int main(int argc, char **argv) {
  if (argc > 1) forks_per_thread = atoi(argv[1]);
  pthread_t a[2], f[2];
  for (uintptr_t k = 0; k < 2; k++)
    if (pthread_create(&a[k], NULL, allocator, (void *)(k + 1))) fail("pthread_create");
  for (int k = 0; k < 2; k++)
    if (pthread_create(&f[k], NULL, forker, NULL)) fail("pthread_create");
  for (int k = 0; k < 2; k++) pthread_join(f[k], NULL);
  atomic_store(&stop, 1);
  for (int k = 0; k < 2; k++) pthread_join(a[k], NULL);
  printf("ok %d forks\n", 2 * forks_per_thread);
  return 0;
}
