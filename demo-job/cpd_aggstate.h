/*
 * cpd_aggstate.h — the aggregate operator's keyed state: per account the
 * count, sum, min, max and last timestamp of its payments (absolute values,
 * as the sink applies them), which accounts changed since the last
 * barrier, and the snapshot format.
 *
 * Snapshot: one line per account, "account count sum min max last_ts\n",
 * the account with bytes outside '!'..'~' and '%' written as %XX (an
 * account may hold spaces); restore treats it as hostile input (bounded
 * lines, every field checked).
 * Not thread-safe: one aggregate subtask owns one.
 */
#ifndef CPD_AGGSTATE_H
#define CPD_AGGSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpd_sink.h"

typedef struct cpd_aggstate cpd_aggstate;

/* The key's hash (FNV-1a): parse sends an account to aggregate subtask
 * hash % P, and the state's table uses it too. */
unsigned cpd_account_hash(const char *account);

/* Empty state; NULL when out of memory. */
cpd_aggstate *cpd_aggstate_new(void);
void cpd_aggstate_free(cpd_aggstate *m);

/* Accounts held. */
size_t cpd_aggstate_count(const cpd_aggstate *m);

/* Folds one payment into account's row (at most 31 bytes of it are the
 * key) and marks it changed. false when out of memory. */
bool cpd_aggstate_add(cpd_aggstate *m, const char *account, int64_t amount_cents, int64_t ts_ms);

/* The row of account, NULL when it has none. Valid until the next add. */
const cpd_row *cpd_aggstate_get(const cpd_aggstate *m, const char *account);

/* Hands every row changed since the last call to emit and clears its mark.
 * emit returns false when it cannot take a row now (a full channel): the
 * flush stops there, that row and the rest keep their marks, and the next
 * flush goes on from that row. Returns the rows handed over. */
size_t cpd_aggstate_flush(cpd_aggstate *m, bool (*emit)(void *opaque, const cpd_row *row),
                          void *opaque);

/* Rows marked changed (what the next flush hands over). */
size_t cpd_aggstate_dirty(const cpd_aggstate *m);

/* Calls fn on every row marked changed, in the order flush would hand them
 * over, leaving the marks alone; stops (false) when fn does. */
bool cpd_aggstate_each_dirty(const cpd_aggstate *m,
                             bool (*fn)(void *opaque, const cpd_row *row), void *opaque);

/* The snapshot (malloc'd, the caller frees; *len bytes). NULL when out of
 * memory. */
char *cpd_aggstate_serialize(const cpd_aggstate *m, size_t *len);

/* Loads a snapshot into an empty state. false (and why in err) on a
 * malformed one; the state then holds what came before the bad line. */
bool cpd_aggstate_restore(cpd_aggstate *m, const char *data, size_t len, char *err,
                          size_t errsz);

#endif
