/* Preloaded before libfaketime by `vmotion-sim` at --speed K (see simulator/speed.py).
 *
 * libfaketime 0.9.10 (Debian 12) does not intercept the glibc >= 2.30 waits that take an absolute deadline on
 * a named clock. Under it, a program reads a faked CLOCK_MONOTONIC (K times faster, and near the epoch), and
 * passes deadlines in that scale to the real kernel wait, which then never ends: Python's Lock.acquire(timeout),
 * Event.wait(timeout), queue.get(timeout) all use sem_clockwait; C++ condition_variable::wait_for uses
 * pthread_cond_clockwait. Here each deadline is turned back into a real one: what is left of it on the faked
 * clock, divided by the rate, from the real clock's now (read with the raw syscall, which libfaketime leaves).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double rate(void)
{
    const char *spec = getenv("FAKETIME");
    const char *x = spec ? strchr(spec, 'x') : NULL;
    double r = x ? atof(x + 1) : 1.0;
    return r > 0 ? r : 1.0;
}

static void real_deadline(clockid_t clock, const struct timespec *fake_deadline, struct timespec *out)
{
    struct timespec fake_now, real_now;
    clock_gettime(clock, &fake_now);            /* through libfaketime: the faked time */
    syscall(SYS_clock_gettime, clock, &real_now); /* past it: the real time */
    double left = (double)(fake_deadline->tv_sec - fake_now.tv_sec)
                  + (double)(fake_deadline->tv_nsec - fake_now.tv_nsec) / 1e9;
    if (left < 0)
        left = 0;
    long long ns = (long long)real_now.tv_sec * 1000000000LL + real_now.tv_nsec + (long long)(left / rate() * 1e9);
    out->tv_sec = ns / 1000000000LL;
    out->tv_nsec = ns % 1000000000LL;
}

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *deadline)
{
    static int (*real)(sem_t *, clockid_t, const struct timespec *);
    struct timespec when;
    if (!real)
        real = (int (*)(sem_t *, clockid_t, const struct timespec *))dlsym(RTLD_NEXT, "sem_clockwait");
    real_deadline(clock, deadline, &when);
    return real(sem, clock, &when);
}

int pthread_cond_clockwait(pthread_cond_t *cond, pthread_mutex_t *mutex, clockid_t clock,
                           const struct timespec *deadline)
{
    static int (*real)(pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
    struct timespec when;
    if (!real)
        real = (int (*)(pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *))dlsym(
            RTLD_NEXT, "pthread_cond_clockwait");
    real_deadline(clock, deadline, &when);
    return real(cond, mutex, clock, &when);
}
