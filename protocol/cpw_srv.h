/*
 * cpw_srv.h — the agent's end of the transport: a PUB or a REP endpoint of
 * the SP wire protocol (PROTOCOL.md §1), listening on ipc:// or tcp://, and
 * served by the one thread that owns it through its poll loop. Dashboards
 * connect with any SP library (cptop with cpw_sock.h, the same format).
 *
 * Why not nng here: this side faces every peer that can connect, and nng
 * 1.5 (what Debian ships) can be driven into states it never leaves by a
 * peer that stops at the wrong moment: an ipc endpoint that stops serving
 * when a peer breaks off the handshake, and a REP whose connections are then
 * never released (a descriptor leaked for each, the poller spinning, and
 * closing the socket hanging forever) when a peer pipelines requests and
 * hangs up. A job must outlive any peer, so its endpoints are this small,
 * single-threaded implementation with every limit explicit:
 *
 *  - at most `max_conns` connections; more are closed at once;
 *  - `handshake_ms` (10 s) to complete the 8-byte handshake, which must
 *    name the protocol that pairs with ours (SUB for a PUB, REQ for a REP);
 *  - a PUB reads nothing: a byte from a subscriber closes its connection;
 *    each subscriber has a queue of `queue` messages and `queue_bytes`
 *    bytes, the oldest unsent one dropped when it is full (the subscriber
 *    sees a seq gap);
 *  - a REP reads messages of at most `recv_max` bytes (a longer one closes
 *    the connection before its body is read) that start with a request id
 *    (at most 8 hops); a peer may have 2 requests unanswered or replies
 *    unsent at a time, a third closes its connection.
 *
 * Not thread-safe: one thread creates, polls, serves and destroys an
 * endpoint. Never blocks (bind resolves a host name once). Never prints.
 */
#ifndef CPW_SRV_H
#define CPW_SRV_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cpw_srv_kind {
    CPW_SRV_PUB,   /* events: publishes to every subscriber */
    CPW_SRV_REP,   /* commands: one reply per request */
} cpw_srv_kind;

typedef struct cpw_srv_conf {
    size_t recv_max;   /* REP: longest request; 0: 256 KiB */
    int queue;         /* PUB: messages queued per subscriber; 0: 1024 */
    size_t queue_bytes;/* PUB: and bytes; 0: 8 MiB */
    int max_conns;     /* 0: 128 */
    int handshake_ms;  /* a peer's header must arrive within; 0: 10000 */
} cpw_srv_conf;

typedef struct cpw_srv cpw_srv;

/* Binds url (ipc://PATH, the socket file mode 0600, a stale one from a dead
 * process replaced; tcp://HOST:PORT). NULL with a message in err. */
cpw_srv *cpw_srv_new(cpw_srv_kind kind, const char *url, const cpw_srv_conf *conf, char *err,
                     size_t errsz);
/* Closes every connection and the listener; removes the ipc socket file.
 * NULL is fine. */
void cpw_srv_destroy(cpw_srv *s);

/* Fills up to max pollfds (the listener, then each connection: POLLIN, and
 * POLLOUT while it has output waiting). Returns how many. A caller that
 * passes fewer than it returns still gets every connection eventually (the
 * listener is always first; connections take turns). */
int cpw_srv_pollfds(cpw_srv *s, struct pollfd *pfd, int max);
/* Accepts, reads and writes what the pollfds from the last cpw_srv_pollfds
 * (with their revents filled in) say is ready, and closes connections past
 * their handshake deadline. now_ms: a monotonic clock in ms. */
void cpw_srv_service(cpw_srv *s, const struct pollfd *pfd, int n, int64_t now_ms);

/* PUB: queues a copy of data to every subscriber past its handshake and
 * writes what the kernel takes now. Returns the subscribers it reached, -1
 * when out of memory. */
int cpw_srv_publish(cpw_srv *s, const void *data, size_t len);

/* REP: a received request. `data`/`len` is its body (the JSON), valid until
 * the next cpw_srv_next_request() or cpw_srv_reply() on the endpoint. */
typedef struct cpw_srv_req {
    const char *data;
    size_t len;
    uint32_t conn;        /* the connection it came on */
    uint8_t trace[36];    /* its request id (and hops), sent back with the reply */
    uint8_t trace_len;
} cpw_srv_req;

/* REP: requests received and not taken yet. */
int cpw_srv_requests(const cpw_srv *s);
/* REP: takes the oldest request received, in arrival order. false: none. */
bool cpw_srv_next_request(cpw_srv *s, cpw_srv_req *r);
/* REP: queues the reply to r and writes what the kernel takes now. A reply
 * for a connection that has gone is dropped. */
void cpw_srv_reply(cpw_srv *s, const cpw_srv_req *r, const void *data, size_t len);

/* Connections open now (past the handshake or not). */
int cpw_srv_conns(const cpw_srv *s);

#endif /* CPW_SRV_H */
