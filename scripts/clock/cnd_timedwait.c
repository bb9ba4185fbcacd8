/* Preloaded beside libfaketime when the tests run with the clock moved (PAYROLL_TEST_CLOCK).
 *
 * librdkafka waits on C11 condition variables. glibc's cnd_timedwait calls its own
 * pthread_cond_timedwait internally, past libfaketime's interposer, so the deadline (read from
 * the moved clock) reaches the kernel unconverted and a one-second wait lasts as long as the
 * clock was moved. Going through the exported pthread_cond_timedwait lets libfaketime convert
 * it. */
#include <errno.h>
#include <pthread.h>
#include <threads.h>
#include <time.h>

int cnd_timedwait(cnd_t *cond, mtx_t *mtx, const struct timespec *deadline) {
  int r = pthread_cond_timedwait((pthread_cond_t *)cond, (pthread_mutex_t *)mtx, deadline);
  return r == 0 ? thrd_success : r == ETIMEDOUT ? thrd_timedout : thrd_error;
}
