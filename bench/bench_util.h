/*
 * bench_util.h — what the C benchmarks (cpbench, cptuibench) share: a
 * monotonic clock, progress notes on stderr and figure formatting.
 * Not thread-safe where it says so; the benchmarks call these from their
 * main thread.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdint.h>

/* Monotonic nanoseconds. Thread-safe. */
int64_t bench_now_ns(void);

/* Where bench_note's timestamps count from (set it at the start). */
extern int64_t bench_origin_ns;

/* A progress line on stderr: "  12.3s <text>". */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "1,234,567". The result lives in one of 8 rotating static buffers: valid
 * until 8 more calls. Not thread-safe. */
const char *bench_commas(uint64_t v);

/* A duration in ns, as "38 ns", "12.3 us" or "4.1 ms"; same buffers rule. */
const char *bench_fmt_ns(double ns);

#endif
