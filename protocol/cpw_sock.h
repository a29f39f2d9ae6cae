/*
 * cpw_sock.h — the dashboard's end of the transport (PROTOCOL.md §1): a SUB
 * that follows a job's events and a REQ that sends it one command, over
 * ipc:// and tcp://. cptop, the tests and the bench connect here; the agent's
 * own endpoints are cpw_srv.h. Both speak the SP wire format that nanomsg
 * and nng speak, so either library's peers interoperate (t_transport.sh
 * checks nng's).
 *
 * No threads: a socket makes progress (connects, handshakes, reconnects,
 * reads, writes) inside the calls below, so a caller that polls waits on
 * cpw_sock_pollfd() and then calls cpw_sock_recv(..., 0). A peer cannot
 * crash or wedge it: a bad handshake, a bad frame header or a message over
 * the receive limit closes that connection (before a byte of a too-long
 * body is read); a SUB then reconnects, a REQ's request fails.
 *
 * Not thread-safe: one thread per socket. Nothing here prints.
 */
#ifndef CPW_SOCK_H
#define CPW_SOCK_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum cpw_sock_kind {
    CPW_SOCK_SUB,   /* a job's events, all of them, reconnecting as needed */
    CPW_SOCK_REQ,   /* one command at a time, one reply each */
} cpw_sock_kind;

typedef enum cpw_sock_err {
    CPW_SOCK_OK = 0,
    CPW_SOCK_AGAIN,     /* nothing to receive yet (a zero timeout) */
    CPW_SOCK_TIMEOUT,   /* the timeout passed */
    CPW_SOCK_CLOSED,    /* REQ: the connection went away after the request left */
    CPW_SOCK_NOMEM,
    CPW_SOCK_BAD_URL,   /* not an ipc:// or tcp://HOST:PORT URL, or no such host */
    CPW_SOCK_STATE,     /* REQ: recv with no request out; send with one out */
    CPW_SOCK_ERR__COUNT
} cpw_sock_err;

/* Static one-line description; never NULL. */
const char *cpw_sock_strerror(cpw_sock_err e);

/* Socket settings; zero fields take the defaults given. */
typedef struct cpw_sock_conf {
    /* Largest message accepted; a longer one closes the connection unread.
     * 0: CPW_MAX_FRAME. */
    size_t recv_max;
    /* The kernel's receive buffer in bytes (SO_RCVBUF); 0: the system's.
     * What a SUB that reads slowly can fall behind before the job drops
     * messages for it. */
    int rcvbuf;
    /* Wait between connection attempts, doubling up to the maximum.
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

/* Makes a socket (conf may be NULL). NULL with a message in err. */
cpw_sock *cpw_sock_new(cpw_sock_kind kind, const cpw_sock_conf *conf, char *err,
                       size_t errsz);
/* Closes it. NULL is fine. */
void cpw_sock_destroy(cpw_sock *s);

/* Sets where to connect (once) and starts connecting. A peer that is not
 * there yet is retried; only a malformed URL or an unknown host fails.
 * Blocks only to resolve a host name. */
cpw_sock_err cpw_sock_dial(cpw_sock *s, const char *url, char *err, size_t errsz);

/* REQ: sends one request, waiting up to timeout_ms (< 0: no limit) for a
 * connection and for the kernel to take it. */
cpw_sock_err cpw_sock_send(cpw_sock *s, const void *data, size_t len, int timeout_ms);
/* REQ: the same without waiting: the request goes out as the socket makes
 * progress in later calls; the caller's reply timeout covers a job that never
 * takes it. */
cpw_sock_err cpw_sock_post(cpw_sock *s, const void *data, size_t len);

/* SUB: the next message. REQ: the reply to the request out (replies to
 * anything else are skipped). timeout_ms: 0 never blocks (CPW_SOCK_AGAIN),
 * < 0 without limit. Free *m with cpw_sock_msg_free(). */
cpw_sock_err cpw_sock_recv(cpw_sock *s, cpw_sock_msg *m, int timeout_ms);
void cpw_sock_msg_free(cpw_sock_msg *m);

/* What to poll for the socket to make progress: fills *p and returns true,
 * or returns false while it waits to reconnect (the caller then polls
 * again within cpw_sock_wait_ms()). The descriptor changes on reconnect:
 * ask again before each poll. */
bool cpw_sock_pollfd(const cpw_sock *s, struct pollfd *p);
/* Milliseconds until the socket wants to be called again without its
 * descriptor being ready (a reconnection due); -1: only when ready. */
int cpw_sock_wait_ms(const cpw_sock *s);

#endif /* CPW_SOCK_H */
