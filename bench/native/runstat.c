/* runstat [--preload LIB] [--report FILE] CMD [ARGS...]
 *
 * Runs CMD and reports its resource usage; the native benchmark runner uses it
 * because a direct child of Bun inherits Bun's own peak RSS through exec (Linux
 * keeps the highest RSS of the process across exec), which would hide the
 * benchmark's. runstat is small, so the floor it leaves is about 1 MiB.
 *
 * With --preload, LD_PRELOAD=LIB is set for CMD only, never for runstat.
 * CMD inherits stdin, stdout and stderr. When it ends, runstat appends one line
 * to stderr:
 *   runstat: exit=E signal=S maxrss_kb=K minflt=F majflt=J user_us=U sys_us=Y wall_us=W
 * (with --report, that line goes to FILE instead, so CMD's stderr stays CMD's alone)
 * and exits with CMD's exit status, or 128 + the signal that ended it.
 * SIGTERM, SIGINT and SIGHUP sent to runstat are passed on to CMD.
 * Usage errors exit 2; a CMD that cannot be run exits 127.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void usage(void) {
  fprintf(stderr, "usage: runstat [--preload LIB] [--report FILE] CMD [ARGS...]\n");
  exit(2);
}

static long long timeval_us(struct timeval tv) { return (long long)tv.tv_sec * 1000000 + tv.tv_usec; }

static volatile pid_t child_pid;

static void forward_signal(int sig) { kill(child_pid, sig); }

static const int forwarded_signals[] = {SIGTERM, SIGINT, SIGHUP};
#define NFORWARDED (sizeof forwarded_signals / sizeof forwarded_signals[0])

int main(int argc, char **argv) {
  int first = 1;
  const char *preload = NULL;
  const char *report = NULL;
  while (first < argc && (strcmp(argv[first], "--preload") == 0 || strcmp(argv[first], "--report") == 0)) {
    if (first + 1 >= argc || argv[first + 1][0] == '\0') usage();
    if (argv[first][2] == 'p') preload = argv[first + 1];
    else report = argv[first + 1];
    first += 2;
  }
  if (first >= argc) usage();
  /* Opened before the child starts (close-on-exec: CMD does not inherit it), so a bad path fails first. */
  FILE *out = stderr;
  if (report != NULL && (out = fopen(report, "we")) == NULL) {
    fprintf(stderr, "runstat: cannot write %s: %s\n", report, strerror(errno));
    return 2;
  }

  /* Blocked until the handlers know the child, so no signal can end runstat alone. */
  sigset_t forwarded, saved_mask;
  sigemptyset(&forwarded);
  for (size_t i = 0; i < NFORWARDED; i++) sigaddset(&forwarded, forwarded_signals[i]);
  sigprocmask(SIG_BLOCK, &forwarded, &saved_mask);

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    perror("runstat: fork");
    return 1;
  }
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &saved_mask, NULL);
    if (preload != NULL && setenv("LD_PRELOAD", preload, 1) != 0) {
      perror("runstat: setenv");
      _exit(127);
    }
    execvp(argv[first], &argv[first]);
    fprintf(stderr, "runstat: cannot run %s: %s\n", argv[first], strerror(errno));
    _exit(127);
  }
  child_pid = pid;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < NFORWARDED; i++) sigaction(forwarded_signals[i], &sa, NULL);
  sigprocmask(SIG_SETMASK, &saved_mask, NULL);

  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      perror("runstat: wait4");
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long long wall_us = (long long)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;

  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  fprintf(out, "runstat: exit=%d signal=%d maxrss_kb=%ld minflt=%ld majflt=%ld user_us=%lld sys_us=%lld wall_us=%lld\n",
          code, sig, ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt, timeval_us(ru.ru_utime), timeval_us(ru.ru_stime),
          wall_us);
  if (out != stderr) fclose(out);
  return sig != 0 ? 128 + sig : code;
}
