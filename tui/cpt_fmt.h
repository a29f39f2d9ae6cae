/*
 * cpt_fmt.h — how cptop writes durations, sizes and times: one formatter of
 * each, shared by the dashboard's view, its event log and the script modes,
 * so the same value reads the same everywhere. Pure and reentrant.
 */
#ifndef CPT_FMT_H
#define CPT_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A duration: "850us" "2.35ms" "120ms" "4.2s" "3m05s" "1h02m" (negative: 0). */
void cpt_fmt_dur(char *out, size_t n, int64_t us);

/* A size: "512 B" "1.2 KiB" "3.4 MiB" "1.50 GiB" (negative: 0). */
void cpt_fmt_bytes(char *out, size_t n, int64_t b);

/* A configured limit, as compact as it is exact: "10m" "30s" "1h", else as
 * cpt_fmt_dur; "?" when unknown (negative). */
void cpt_fmt_limit(char *out, size_t n, int64_t us);

/* A wall-clock time of day, local: "08:00:01", with millis "08:00:01.250";
 * "-" for none (0 or negative). */
void cpt_fmt_clock(char *out, size_t n, int64_t ts_us, bool millis);

#endif /* CPT_FMT_H */
