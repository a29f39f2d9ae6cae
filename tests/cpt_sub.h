/* cpt_sub.h — test and bench helpers: a subscriber that decodes frames and
 * tracks seq gaps, a one-shot command client, and an echoing REP endpoint
 * served on a thread of its own (a job's command socket, for the tests). */
#ifndef CPT_SUB_H
#define CPT_SUB_H

#include "cpw.h"
#include "cpw_sock.h"
#include "cpw_state.h"

typedef struct cpt_sub {
    cpw_sock *sock;
    uint64_t first_seq;    /* first seq received, 0: none yet */
    uint64_t last_seq;     /* 0: none yet */
    uint64_t gaps;         /* times a seq was skipped */
    uint64_t missed;       /* messages skipped in all */
    uint64_t messages, frames, events, errors;
    cpw_msg_cb cb;         /* optional, per decoded message */
    void *opaque;
} cpt_sub;

/* Connects a SUB socket (subscribed to everything) with an 8 MiB receive
 * buffer. 0 on success. */
int cpt_sub_open(cpt_sub *s, const char *url);
/* The same with a receive buffer of `rcvbuf` bytes: a reader that falls
 * further behind than that and the job's queue for it loses messages, as a
 * slow dashboard does. */
int cpt_sub_open_rcvbuf(cpt_sub *s, const char *url, int rcvbuf);
/* Receives and decodes one frame within timeout_ms. Returns messages
 * decoded, 0 on timeout, -1 on a decode error. */
int cpt_sub_poll(cpt_sub *s, int timeout_ms);
void cpt_sub_close(cpt_sub *s);

/* Sends raw bytes on a fresh REQ socket, waits for the reply.
 * Returns the reply length and *out (free with free()), or -1 on timeout. */
int cpt_request_raw(const char *url, const void *data, size_t len, char **out, int timeout_ms);

/* Encodes and sends a command (signed when secret != NULL), decodes the
 * reply into *reply. Returns 0 when a reply was decoded. */
int cpt_command(const char *url, const cpw_command *cmd, const unsigned char *secret,
                size_t secret_len, cpw_msg *reply, int timeout_ms);
/* The same with the envelope naming job (what a signed command is bound to,
 * with cmd->instance). */
int cpt_command_as(const char *url, const char *job, const cpw_command *cmd,
                   const unsigned char *secret, size_t secret_len, cpw_msg *reply,
                   int timeout_ms);

/* A REP endpoint (cpw_srv) listening on url, served by a thread: each
 * request is answered with "echo:" and its bytes. NULL with err filled. */
typedef struct cpt_echo cpt_echo;
cpt_echo *cpt_echo_start(const char *url, char *err, size_t errsz);
/* Requests answered so far. Thread-safe. */
unsigned long cpt_echo_requests(cpt_echo *e);
/* Stops the thread and closes the endpoint (its socket file removed). */
void cpt_echo_stop(cpt_echo *e);

#endif
