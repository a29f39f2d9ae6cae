/* cpa_rest.h — internal to libcpagent: the opt-in HTTP endpoint that answers
 * the checkpoint part of Apache Flink's REST API (agent/REST.md) from the
 * state the agent thread folds.
 *
 * libmicrohttpd runs without a thread of its own, inside the agent thread's
 * loop (external epoll mode): the loop polls cpa_rest_fd() beside the
 * command socket, folds cpa_rest_wait_us() into its wait and calls
 * cpa_rest_run(). Every answer is therefore built on the agent thread, from
 * its own cpw_state, without a lock; the job's threads never see HTTP.
 *
 * Thread-safety: cpa_rest_new() and cpa_rest_destroy() run on the
 * controlling thread while the agent thread does not (before cpa_start()'s
 * pthread_create, after cpa_stop()'s join); everything else on the agent
 * thread only. */
#ifndef CPA_REST_H
#define CPA_REST_H

#include "cpa_internal.h"

typedef struct cpa_rest cpa_rest;

/* Whether value is a rest.listen address: "HOST:PORT" with HOST an IPv4
 * address, "localhost" or a bracketed IPv6 address, PORT 0…65535 (0: any
 * free port). false with the reason in err. */
bool cpa_rest_listen_ok(const char *value, char *err, size_t errsz);

/* Binds a->conf.rest_listen and starts serving (nothing is read until the
 * loop runs it). A listen address other than loopback loads the agent's
 * secret file: POST and PATCH then need "Authorization: Bearer <secret>".
 * NULL on failure, with *code (CPA_ERR_TRANSPORT: cannot listen; the secret
 * file's CPA_ERR_IO or CPA_ERR_INSECURE; CPA_ERR_NOMEM) and a message in err. */
cpa_rest *cpa_rest_new(cpa_agent *a, cpa_err *code, char *err, size_t errsz);
/* Closes every connection and the listening socket. NULL is fine. */
void cpa_rest_destroy(cpa_rest *r);

/* The port bound (the one chosen when the configuration said 0), and the
 * base URL for the discovery file ("http://127.0.0.1:8081"). */
int cpa_rest_bound_port(const cpa_rest *r);
const char *cpa_rest_url(const cpa_rest *r);

/* The descriptor to poll for POLLIN (never read or close it). */
int cpa_rest_fd(const cpa_rest *r);
/* wait_us, shortened to when the server next needs to run (a connection
 * timing out). */
int64_t cpa_rest_wait_us(cpa_rest *r, int64_t wait_us);
/* Serves what is ready: call after the poll when the descriptor was
 * readable or the wait above ran out. Bounded work per ready request. */
void cpa_rest_run(cpa_rest *r, bool readable);

/* Called after each event is folded into the agent's state: keeps the REST
 * history, the all-time summary and the trigger operations up to date. */
void cpa_rest_observe(cpa_rest *r, const cpw_event *ev);
/* A trigger command was accepted by the job's handler (from any path):
 * op_id names the REST operation it serves, NULL for one from a dashboard.
 * The next manual cp_triggered belongs to the oldest such acceptance. */
void cpa_rest_trigger_accepted(cpa_rest *r, const char *op_id);

#endif
