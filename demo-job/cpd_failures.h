/*
 * cpd_failures.h — the job's failure catalogue: one table, each kind a
 * descriptor (name, what it does, whether it targets a subtask, its
 * parameters with type, range, default and unit) with the function that
 * performs it and the recovery the dashboard then shows.
 *
 * The same table is what the agent publishes to dashboards in hello
 * (cptop's `f` menu and `ctl fail` checks come from it; the agent refuses a
 * command that does not fit it), what the INJECT_FAILURE handler looks kinds
 * up in, and what demo-job/README.md's catalogue is generated from
 * (`cpdemo failures --markdown`; a test compares them).
 *
 * Parameters are integers. A command's value may carry its unit as a
 * suffix ("500ms", "5 s"); an absent one takes its default. stall's
 * default follows the checkpoint timeout (timeout + 2 s: the checkpoint
 * expires), so the table is declared again when the timeout changes.
 */
#ifndef CPD_FAILURES_H
#define CPD_FAILURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cpagent.h"

typedef struct cpd_job cpd_job;

/* What a kind does to the job: vals holds every declared parameter, in
 * range. Writes the outcome into msg; CPA_OK or CPA_ERR_HANDLER. Runs on
 * the agent thread; touches the job only through atomics and thread-safe
 * calls. */
typedef cpa_err (*cpd_failure_fn)(cpd_job *j, int op, int sub, const int64_t *vals, char *msg,
                                  size_t size);

/* A kind: what the agent publishes (cpa_failure_desc) and what the job does. */
typedef struct cpd_failure_kind {
    cpa_failure_desc desc;
    const char *recovery;       /* what follows, for the README table */
    cpd_failure_fn apply;
} cpd_failure_kind;

/* The catalogue, in menu order; *n its length. Static, never NULL. */
const cpd_failure_kind *cpd_failures(int *n);
/* The kind named name, NULL if none. */
const cpd_failure_kind *cpd_failures_find(const char *name);

/* The descriptors as published for a job whose checkpoint timeout is
 * timeout_ms (stall's default follows it) into out (max entries); returns
 * the count. */
int cpd_failures_descs(int64_t timeout_ms, cpa_failure_desc *out, int max);

/* Declares the table to the agent (cpa_set_failure_kinds) for that
 * timeout: dashboards build their menus from it and the agent checks every
 * inject_failure against it. Call again when the timeout changes. */
cpa_err cpd_failures_publish(cpa_agent *a, int64_t timeout_ms);

/* Checks cmd against the catalogue (kind, target within n_ops operators
 * and parallelism subtasks, parameters: known, integers with at most their
 * unit after them, in range; absent ones take their default) and fills
 * vals. false with a message naming the bad part and its range. */
bool cpd_failures_check(const cpd_failure_kind *k, const cpa_command *cmd, int n_ops,
                        int parallelism, int64_t timeout_ms, int64_t *vals, char *msg,
                        size_t size);

/* INJECT_FAILURE: checks and applies cmd to j, and on success emits
 * FAILURE_INJECTED. Agent thread. */
cpa_err cpd_failures_inject(cpd_job *j, const cpa_command *cmd, int64_t timeout_ms, char *msg,
                            size_t size);

/* The catalogue as demo-job/README.md shows it (a markdown table). */
void cpd_failures_markdown(FILE *f);

/* `cpdemo failures [--markdown]`: the catalogue on stdout. */
int cpd_cmd_failures(int argc, char **argv);

#endif
