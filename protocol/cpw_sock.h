/*
 * cpw_sock.h — the dashboard's end of the transport: SP sockets over nng
 * (PROTOCOL.md §1) that subscribe to a job's events (SUB) and send it
 * commands (REQ), over ipc:// and tcp://; and a plain PUB for the bench's
 * baseline. cptop, the tests and the bench open their sockets here, so size
 * limits and peer handling are decided once. (The agent's own endpoints, the
 * side every peer can reach, are cpw_srv.h.)
 *
 * nng speaks the scalability-protocols wire format nanomsg speaks (an 8-byte
 * handshake naming the protocol, then each message as a 64-bit big-endian
 * length and its bytes), so a peer built on nanomsg interoperates. A bad
 * handshake or header from the peer closes that connection, and a message
 * longer than the socket's receive limit closes it before a byte of the body
 * is read: a hostile job cannot bring a dashboard down.
 *
 * Thread-safety: a socket may be used by one sending and one receiving thread
 * at a time (cpw_sock_send/cpw_sock_post share one asynchronous operation);
 * cpw_sock_destroy() must be the last call. Nothing here prints.
 */
#ifndef CPW_SOCK_H
#define CPW_SOCK_H

#include <stdbool.h>
#include <stddef.h>

typedef enum cpw_sock_kind {
    CPW_SOCK_PUB,   /* sends only, never blocks (the bench's raw publisher) */
    CPW_SOCK_SUB,   /* a dashboard's subscription, to everything */
    CPW_SOCK_REQ,   /* a dashboard's command socket: one request, one reply */
} cpw_sock_kind;

typedef enum cpw_sock_err {
    CPW_SOCK_OK = 0,
    CPW_SOCK_AGAIN,     /* nothing to receive, or the message cannot go now */
    CPW_SOCK_TIMEOUT,   /* the timeout passed */
    CPW_SOCK_CLOSED,    /* the socket is closed */
    CPW_SOCK_NOMEM,
    CPW_SOCK_BAD_URL,   /* not an ipc:// or tcp:// URL, or malformed */
    CPW_SOCK_ADDR,      /* the address is in use, refused or unreachable */
    CPW_SOCK_STATE,     /* not valid now (a REQ receive with no request out) */
    CPW_SOCK_FAILED,    /* anything else */
    CPW_SOCK_ERR__COUNT
} cpw_sock_err;

/* Static one-line description; never NULL. */
const char *cpw_sock_strerror(cpw_sock_err e);

/* Socket settings; zero fields take the defaults given. */
typedef struct cpw_sock_conf {
    /* Largest message accepted: a peer that sends a longer one is
     * disconnected before its body is read. 0: CPW_MAX_FRAME; a PUB accepts
     * nothing (a subscriber never sends). */
    size_t recv_max;
    /* Messages buffered, 1…8192. SUB: the receive queue (when full the
     * oldest is dropped: the reader sees a seq gap; default 1024). PUB: each
     * subscriber's send queue (when full, new messages skip that subscriber;
     * default 1024). Others: nng's defaults. */
    int queue;
    /* Dialers: wait between connection attempts, growing to the maximum.
     * 0: 100 ms, and the maximum equal to the minimum. */
    int reconnect_ms, reconnect_max_ms;
} cpw_sock_conf;

typedef struct cpw_sock cpw_sock;

/* A received message: data/len stay valid until cpw_sock_msg_free(). */
typedef struct cpw_sock_msg {
    const char *data;
    size_t len;
    void *impl;
} cpw_sock_msg;

/* Opens a socket (conf may be NULL). NULL with a message in err on failure. */
cpw_sock *cpw_sock_new(cpw_sock_kind kind, const cpw_sock_conf *conf, char *err,
                       size_t errsz);
/* Closes it: pending operations are cancelled, queued messages dropped, an
 * ipc:// socket file it listened on removed. NULL is fine. */
void cpw_sock_destroy(cpw_sock *s);

/* Binds url (ipc://PATH, made mode 0600; tcp://HOST:PORT). Does not block. */
cpw_sock_err cpw_sock_listen(cpw_sock *s, const char *url, char *err, size_t errsz);
/* Connects to url in the background, and again whenever the connection
 * drops. Only a malformed URL fails here; a peer that is not there yet is
 * simply retried (a SUB's ipc dialer is restarted after 3 s without a
 * connection). Does not block. */
cpw_sock_err cpw_sock_dial(cpw_sock *s, const char *url, char *err, size_t errsz);

/* Sends a copy of data. timeout_ms: 0 never blocks (CPW_SOCK_AGAIN when it
 * cannot go now), > 0 waits up to that long, < 0 without limit. A PUB never
 * waits: a subscriber whose queue is full misses the message. */
cpw_sock_err cpw_sock_send(cpw_sock *s, const void *data, size_t len, int timeout_ms);
/* Starts sending a copy of data and returns at once: for a request on a
 * socket that may still be connecting. A message that cannot go within
 * timeout_ms is dropped (a REQ's caller then sees no reply in time). A later
 * send or post on the socket first waits for this one. */
cpw_sock_err cpw_sock_post(cpw_sock *s, const void *data, size_t len, int timeout_ms);

/* Receives one message into *m (free it with cpw_sock_msg_free()).
 * timeout_ms as cpw_sock_send. */
cpw_sock_err cpw_sock_recv(cpw_sock *s, cpw_sock_msg *m, int timeout_ms);
void cpw_sock_msg_free(cpw_sock_msg *m);

/* How many times the ipc watchdog redialled one of this socket's ipc
 * dialers (see cpw_sock.c). Thread-safe. */
unsigned cpw_sock_restarts(const cpw_sock *s);

/* A descriptor that polls readable while a message can be received (SUB,
 * REQ); never read or close it. -1 for a PUB or on error. */
int cpw_sock_fd(cpw_sock *s);

#endif /* CPW_SOCK_H */
