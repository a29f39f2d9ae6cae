/* cpw_discovery.h — finding running jobs through the discovery files their
 * agents write in the per-user runtime directory (see PROTOCOL.md). */
#ifndef CPW_DISCOVERY_H
#define CPW_DISCOVERY_H

#include "cpw.h"

typedef struct cpw_job_entry {
    char job[CPW_MAX_JOB_ID];
    char name[CPW_NAME_MAX];
    int pid;
    char events[300];
    char commands[300];
    char instance[CPW_INSTANCE_HEX + 1]; /* the agent run that wrote it ("" before 0.2) */
    char auth[24];            /* "none" or "hmac-sha256" */
    char secret_file[256];
    char rest[128];           /* the Flink REST endpoint ("http://HOST:PORT"), "" if none */
    int64_t started_us;
    bool alive;               /* the pid still exists */
} cpw_job_entry;

/* The runtime directory an agent uses by default: $XDG_RUNTIME_DIR/cptop,
 * else /tmp/cptop-$UID. false when it does not fit in size bytes. */
bool cpw_runtime_dir(char *out, size_t size);

/* Reads every <job>.json in dir (at most max entries, sorted by start time,
 * newest first). Unreadable or malformed files are skipped. Returns the
 * count, or -1 if the directory cannot be opened. Allocates nothing. */
int cpw_discover(const char *dir, cpw_job_entry *out, int max);

#endif
