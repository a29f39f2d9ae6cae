/*
 * cpt_link.h — cptop's sockets to one job's agent: the event subscription
 * and, without blocking the event loop, a get_state request and one user
 * command at a time. Decoded messages go straight into the model.
 *
 * All calls are non-blocking; the loop polls the descriptors that
 * cpt_link_pollfds() lists. Not thread-safe.
 */
#ifndef CPT_LINK_H
#define CPT_LINK_H

#include <poll.h>

#include "cpt_model.h"
#include "cpw_sock.h"

/* Where a job's agent listens, and the secret its commands need over TCP. */
typedef struct cpt_target {
    char job[CPW_MAX_JOB_ID];
    char name[CPW_NAME_MAX];
    int pid;                      /* 0: unknown (--connect) */
    /* the agent's run, as the discovery file or its latest hello says: a
     * signed command names it (PROTOCOL.md §12); "" until known */
    char instance[CPW_INSTANCE_HEX + 1];
    char events[300], commands[300];
    unsigned char secret[1024];
    size_t secret_len;
    bool tcp;
    bool discovered;              /* found in the runtime directory */
} cpt_target;

typedef struct cpt_link {
    cpt_target t;
    cpw_sock *sub;                /* the subscription, NULL when closed */
    cpw_sock *req_state, *req_cmd; /* REQ sockets with a request out, else NULL */
    int64_t state_sent_us, cmd_sent_us;
    char cmd_name[32];            /* what the pending command was, for its reply */
    uint64_t next_req;
    /* optional: called with every reply's raw bytes before it is decoded
     * (a source's recorder); set after cpt_link_open */
    void (*reply_tap)(void *ud, const void *bytes, size_t len);
    void *reply_tap_ud;
} cpt_link;

/* Connects the subscription. 0, or -1 with a message in err. */
int cpt_link_open(cpt_link *l, const cpt_target *t, char *err, size_t errsz);
void cpt_link_close(cpt_link *l);

/* Fills up to max pollfds (events socket, pending replies); returns how many.
 * The descriptors change as sockets reconnect: call before each poll, and
 * poll for at most cpt_link_wait_ms(). */
int cpt_link_pollfds(const cpt_link *l, struct pollfd *pfd, int max);
/* Milliseconds until a socket wants to reconnect without any descriptor
 * being ready; -1: none does. */
int cpt_link_wait_ms(const cpt_link *l);

/* Notes what signed commands are bound to (PROTOCOL.md §12): the job and
 * its agent's current run, from a hello or a state. Empty strings are
 * ignored. */
void cpt_link_learn(cpt_link *l, const char *job, const char *instance);

/* Sends get_state (all history the agent keeps); the reply is picked up
 * by cpt_link_poll_state. 0, or -1 when it could not be sent. */
int cpt_link_send_state(cpt_link *l);
/* A get_state reply (into the model), or its timeout. Returns 1 when the
 * request finished either way, 0 while it is still out. */
int cpt_link_poll_state(cpt_link *l, cpt_model *m, int64_t now_us, int timeout_ms);

/* Sends a user command. 0, or -1 with the reason in err. */
int cpt_link_send_cmd(cpt_link *l, const cpw_cmd *c, char *err, size_t errsz);
/* Whether a command is waiting for its reply. */
bool cpt_link_cmd_pending(const cpt_link *l);
/* Its reply, or its timeout: returns 1 and fills *ok and text (what to show
 * in the status line), 0 while still waiting. */
int cpt_link_poll_cmd(cpt_link *l, int64_t now_us, int timeout_ms, bool *ok, char *text,
                      size_t size);

#endif /* CPT_LINK_H */
