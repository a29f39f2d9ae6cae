/*
 * cpt_flink_rows.h — every listed job's checkpoint figures for the cluster
 * overview (last checkpoint's age and duration, failed, in flight), from
 * each job's /jobs/:jid/checkpoints, polled on its own pace.
 *
 * The watched job is the feed's business (polled at --poll, folded into
 * the model); these are the others' one-line figures. Polling respects
 * the cluster: a job is asked no more often than the period given
 * (cpt_src_flink: the poll interval, but never faster than Flink's own
 * statistics cache), the first asks spread over one period rather than
 * sent together, a finished job asked once, a job without checkpointing
 * once a minute.
 *
 * Pure and I/O-free: the caller sends the requests it is told are due and
 * hands back the answers. Bodies go through the bounded cpw_flink readers.
 * Not thread-safe: one owner.
 */
#ifndef CPT_FLINK_ROWS_H
#define CPT_FLINK_ROWS_H

#include "cpt_model.h"
#include "cpw_flink.h"

typedef struct cpt_flink_rows cpt_flink_rows;

/* NULL when out of memory. */
cpt_flink_rows *cpt_flink_rows_new(void);
void cpt_flink_rows_destroy(cpt_flink_rows *r);

/* The jobs /jobs/overview lists now (the first CPT_JOBS_MAX): a job no
 * longer listed is forgotten, new ones are due over the next spread_us,
 * one whose state changed is due at once. */
void cpt_flink_rows_sync(cpt_flink_rows *r, const cpw_flink_jobs *j, int64_t spread_us,
                         int64_t now_us);

/* Up to max request paths due at now_us (each job's next ask is then set
 * one period on; skip_jid, the watched job, is never asked). Returns how
 * many. */
int cpt_flink_rows_due(cpt_flink_rows *r, int64_t now_us, int64_t period_us,
                       const char *skip_jid, char (*paths)[160], int max);

/* The figures are wanted again after a pause: the jobs overdue are asked
 * over the next spread_us, not all at once. */
void cpt_flink_rows_resume(cpt_flink_rows *r, int64_t spread_us, int64_t now_us);

/* How many listed jobs (but skip_jid) have not answered yet. */
int cpt_flink_rows_unheard(const cpt_flink_rows *r, const char *skip_jid);

/* When the next ask is due (INT64_MAX: none). */
int64_t cpt_flink_rows_next(const cpt_flink_rows *r, const char *skip_jid);

/* The answer to a path cpt_flink_rows_due gave (status 0: no response;
 * body then says why). true when a listed job's figures changed. */
bool cpt_flink_rows_answer(cpt_flink_rows *r, const char *path, int status, const char *body,
                           size_t len, int64_t now_us);

/* The figures known for job jid (NULL: not listed or not heard yet). */
const cpt_job_cp *cpt_flink_rows_get(const cpt_flink_rows *r, const char *jid);

#endif
