/* fork() with pthread_atfork handlers that allocate (libatfork_alloc.so,
 * registered before the allocator's): from the main thread and from another
 * thread, while a third thread allocates. Pass: every child exits 0, the
 * parent goes on allocating, the handlers ran. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <errno.h>
#include <unistd.h>
#include "adversarial.h"

unsigned long atfork_handler_calls(void);

static atomic_int stop;

static void fork_once(void) {
  pid_t pid = fork();
  if (pid < 0) fail("fork: %s", strerror(errno));
  if (pid == 0) {
    void *p = malloc(300000), *q = malloc(100);
    if (!p || !q) _exit(3);
    free(p);
    free(q);
    _exit(0);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("child exited with status 0x%x", status);
}

static void *forker(void *arg) {
  for (int i = 0; i < 5; i++) fork_once();
  return arg;
}

static void *allocator(void *arg) {
  while (!atomic_load(&stop)) {
    void *p = malloc(150000), *q = malloc(48);
    free(opaque(p));
    free(opaque(q));
  }
  return arg;
}

int main(void) {
  pthread_t a, f;
  if (pthread_create(&a, NULL, allocator, NULL)) fail("pthread_create");
  for (int i = 0; i < 5; i++) fork_once();
  if (pthread_create(&f, NULL, forker, NULL)) fail("pthread_create");
  pthread_join(f, NULL);
  atomic_store(&stop, 1);
  pthread_join(a, NULL);
  /* prepare + parent in this process for each of the 10 forks */
  if (atfork_handler_calls() != 20) fail("handlers ran %lu times, expected 20", atfork_handler_calls());
  printf("ok 10 forks\n");
  return 0;
}
