/*
 * cpd_clock.h — the demo job's clocks and sleep, in one place.
 *
 * Wall time (CLOCK_REALTIME) is for what leaves the process: event
 * timestamps, file times. Monotonic time (CLOCK_MONOTONIC) is for every
 * interval the job measures or waits out (timeouts, deadlines, durations):
 * it does not jump when the system clock is set. All functions are
 * thread-safe and never fail.
 */
#ifndef CPD_CLOCK_H
#define CPD_CLOCK_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

/* Wall-clock microseconds since the epoch. */
static inline int64_t cpd_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Wall-clock milliseconds since the epoch. */
static inline int64_t cpd_wall_ms(void) { return cpd_wall_us() / 1000; }

/* Monotonic microseconds (arbitrary origin). */
static inline int64_t cpd_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Monotonic milliseconds (arbitrary origin). */
static inline int64_t cpd_mono_ms(void) { return cpd_mono_us() / 1000; }

/* Sleeps ms milliseconds (nothing for ms <= 0). A signal ends the sleep
 * early only when *stop becomes non-zero (stop may be NULL: sleep it out). */
static inline void cpd_sleep_ms_until(int64_t ms, volatile int *stop)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !(stop && *stop)) {
    }
}

/* Sleeps ms milliseconds, resuming after signals. */
static inline void cpd_sleep_ms(int64_t ms) { cpd_sleep_ms_until(ms, NULL); }

/* Sleeps us microseconds (nothing for us <= 0), resuming after signals. */
static inline void cpd_sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#endif
