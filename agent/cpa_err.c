/* cpa_err.c — the agent's errors (the text cpa_strerror() gives, the token a
 * reply carries) and its two ways of reporting: the job's log callback and an
 * error buffer. A file of its own so that every part of the agent can report
 * without depending on the agent's main file. */
#include "cpa_internal.h"

#include <stdarg.h>
#include <stdio.h>


static const char *const err_text[CPA_ERR__COUNT] = {
    [CPA_OK] = "success",
    [CPA_ERR_INVALID_ARG] = "invalid argument",
    [CPA_ERR_UNKNOWN_KEY] = "unknown configuration key",
    [CPA_ERR_NOMEM] = "out of memory",
    [CPA_ERR_STATE] = "not valid in the agent's current state",
    [CPA_ERR_QUEUE_FULL] = "event queue full; event dropped",
    [CPA_ERR_TRANSPORT] = "transport (socket) error",
    [CPA_ERR_IO] = "file or directory error",
    [CPA_ERR_INSECURE] = "unsafe file or directory permissions",
    [CPA_ERR_AUTH] = "command refused: authentication failed",
    [CPA_ERR_LIMIT] = "protocol limit exceeded",
    [CPA_ERR_BAD_COMMAND] = "malformed or unknown command",
    [CPA_ERR_UNSUPPORTED] = "command not supported by this job",
    [CPA_ERR_HANDLER] = "the job refused the command",
};

/* Wire tokens of errors, used in replies. */
static const char *const err_token[CPA_ERR__COUNT] = {
    [CPA_OK] = "ok", [CPA_ERR_INVALID_ARG] = "invalid_arg",
    [CPA_ERR_UNKNOWN_KEY] = "unknown_key", [CPA_ERR_NOMEM] = "nomem",
    [CPA_ERR_STATE] = "state", [CPA_ERR_QUEUE_FULL] = "queue_full",
    [CPA_ERR_TRANSPORT] = "transport", [CPA_ERR_IO] = "io",
    [CPA_ERR_INSECURE] = "insecure", [CPA_ERR_AUTH] = "auth", [CPA_ERR_LIMIT] = "limit",
    [CPA_ERR_BAD_COMMAND] = "bad_command", [CPA_ERR_UNSUPPORTED] = "unsupported",
    [CPA_ERR_HANDLER] = "handler",
};

const char *cpa_strerror(cpa_err err)
{
    return ((unsigned)err < CPA_ERR__COUNT) ? err_text[err] : "unknown error";
}

const char *cpa_err_token(cpa_err err)
{
    return err_token[(unsigned)err < CPA_ERR__COUNT ? err : 0];
}

void cpa_log(const cpa_agent *a, int level, const char *fmt, ...)
{
    if (!a->conf.log_cb)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    a->conf.log_cb(a->conf.log_opaque, level, msg);
}

void cpa_seterr(char *buf, size_t size, const char *fmt, ...)
{
    if (!buf || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}
