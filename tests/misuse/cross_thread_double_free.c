/* A second free from a thread that does not own the block: the owner thread
 * (still running) frees it onto its own slab's list, then the main thread
 * frees it again. Detected when HAKMEM_CHECK=1; before, only the remote list
 * was searched, the block was handed out twice and the program later crashed.
 *   cross_thread_double_free [small|mid] */
#include <pthread.h>
#include "misuse.h"

static size_t size;
static char *block;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int stage; /* 1: owner freed the block; 2: main is done */

static void *owner(void *arg)
{
  char *keep = opaque(malloc(size)); /* keeps the slab formatted */
  block = opaque(malloc(size));
  memset(block, 'o', size);
  free(block);
  pthread_mutex_lock(&lock);
  stage = 1;
  pthread_cond_broadcast(&cond);
  while (stage != 2) pthread_cond_wait(&cond, &lock); /* stays alive: its heap is live */
  pthread_mutex_unlock(&lock);
  free(keep);
  return arg;
}

int main(int argc, char **argv)
{
  misuse_setup();
  size = argc > 1 && strcmp(argv[1], "mid") == 0 ? 20000 : 64;
  pthread_t t;
  if (pthread_create(&t, NULL, owner, NULL)) return 2;
  pthread_mutex_lock(&lock);
  while (stage != 1) pthread_cond_wait(&cond, &lock);
  pthread_mutex_unlock(&lock);
  announce(block);
  free(opaque(block));
  pthread_mutex_lock(&lock);
  stage = 2;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
  pthread_join(t, NULL);
  return survived("second free from another thread");
}
