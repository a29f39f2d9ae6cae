/*
 * cpd_run.h — `cpdemo run`: the job. Kafka source → parse → keyBy(account)
 * → aggregate → sink, one thread per subtask, bounded channels carrying
 * records and barriers in-band (cpd_chan), checkpoints coordinated on their
 * own thread (cpd_ckpt over cpd_coord), aligned by cpd_align, written by
 * cpd_storage, committed by cpd_sink, and every step streamed to
 * libcpagent. Its parts are listed in cpd_job.h.
 */
#ifndef CPD_RUN_H
#define CPD_RUN_H

/* The subcommand: cpdemo run --config FILE [--from-checkpoint N] [--seconds S]
 * [--drain] [--allow-unknown-keys] [--supervise [--max-restarts N]]. Blocks
 * until the job ends; returns the exit status. */
int cpd_cmd_run(int argc, char **argv);

#endif
