/* cpd_parse.c — the job's record parser (see cpd_parse.h). */
#include "cpd_parse.h"

#include <stdio.h>
#include <string.h>

#include "cpw_json.h"

bool cpd_parse_record(const void *value, size_t len, cpd_vrecord *out, char *why,
                      size_t why_size)
{
    const char *buf = value;
    if (!buf || !len)
        return cpd_verify_parse(value, len, out, why, why_size);
    if (cpj_prevalidate(buf, len, NULL) != CPW_OK)
        return cpd_verify_parse(value, len, out, why, why_size); /* NUL, bad UTF-8, huge */
    size_t p = 0;
    cpj_ws(buf, len, &p);
    cpj_obj o;
    if (p >= len || buf[p] != '{' || cpj_parse_object(buf, len, &p, &o, NULL) != CPW_OK)
        return cpd_verify_parse(value, len, out, why, why_size); /* not an object, syntax */
    cpj_ws(buf, len, &p);
    if (p != len)
        return cpd_verify_parse(value, len, out, why, why_size); /* trailing bytes */
    /* The fast path covers flat objects of plain strings, integers and
     * literals, as good records are; anything else gets the reference rule
     * (nested duplicates, \u0000 in any string, real overflow, …). */
    for (int i = 0; i < o.n; i++) {
        const cpj_field *f = &o.f[i];
        if (memchr(f->key, '\\', f->key_len) || f->type == CPJ_OBJECT || f->type == CPJ_ARRAY ||
            (f->type == CPJ_STRING && f->escaped))
            return cpd_verify_parse(value, len, out, why, why_size);
        if (f->type == CPJ_NUMBER) {
            int64_t v;
            if (memchr(f->val, '.', f->val_len) || memchr(f->val, 'e', f->val_len) ||
                memchr(f->val, 'E', f->val_len) || cpj_int(f, &v) != CPW_OK)
                return cpd_verify_parse(value, len, out, why, why_size);
        }
    }
    const cpj_field *acct = cpj_get(&o, "account"), *amt = cpj_get(&o, "amount_cents");
    const cpj_field *ts = cpj_get(&o, "ts_ms"), *id = cpj_get(&o, "id");
    if (cpj_get(&o, "bad") || !acct || acct->type != CPJ_STRING || acct->val_len < 1 ||
        acct->val_len > CPD_VERIFY_ACCOUNT_MAX || !amt || amt->type != CPJ_NUMBER || !ts ||
        ts->type != CPJ_NUMBER || !id || id->type != CPJ_NUMBER)
        return cpd_verify_parse(value, len, out, why, why_size); /* malformed: its words */
    memcpy(out->account, acct->val, acct->val_len);
    out->account[acct->val_len] = '\0';
    cpj_int(amt, &out->amount_cents);
    cpj_int(ts, &out->ts_ms);
    cpj_int(id, &out->id);
    if (why && why_size)
        why[0] = '\0';
    return true;
}
