/* cpw_hello.c — hello's members, which a get_state result carries too:
 * the writer and the hostile-input reader (PROTOCOL.md §7, §11). */
#include "cpw_hello.h"
#include "cpw_failure.h"
#include "cpw_json.h"
#include "cpw_jx.h"

#include <string.h>

static cpw_err read_topology(json_t *obj, cpw_hello *h, cpw_error *err);

void cpw_hello_write_members(cpw_buf *b, const cpw_hello *h)
{
    cpj_kv_str(b, "name", h->name);
    cpj_kv_i64(b, "pid", h->pid);
    if (h->start_ts_us > 0)
        cpj_kv_i64(b, "start_ts_us", h->start_ts_us);
    cpj_kv_str(b, "agent_version", h->agent_version);
    if (h->instance[0])
        cpj_kv_str(b, "instance", h->instance);
    cpj_key(b, "operators");
    cpj_char(b, '[');
    for (int i = 0; i < h->n_ops; i++) {
        if (i)
            cpj_char(b, ',');
        cpj_lit(b, "{\"name\":");
        cpj_str(b, h->ops[i].name);
        cpj_kv_i64(b, "parallelism", h->ops[i].parallelism);
        cpj_char(b, '}');
    }
    cpj_char(b, ']');
    cpj_key(b, "edges");
    cpj_char(b, '[');
    for (int i = 0; i < h->n_edges; i++) {
        if (i)
            cpj_char(b, ',');
        cpj_lit(b, "{\"from\":");
        cpj_i64(b, h->edges[i].from);
        cpj_kv_i64(b, "to", h->edges[i].to);
        cpj_kv_str(b, "kind", h->edges[i].kind);
        cpj_char(b, '}');
    }
    cpj_char(b, ']');
    cpj_key(b, "config");
    cpj_char(b, '{');
    for (int i = 0; i < h->n_config; i++) {
        if (i)
            cpj_char(b, ',');
        cpj_str(b, h->config_keys[i]);
        cpj_char(b, ':');
        cpj_str(b, h->config_values[i]);
    }
    cpj_char(b, '}');
    cpw_failure_encode(b, h);
}


/* An agent instance id: 32 lowercase hex, or absent. */
static cpw_err read_instance(json_t *obj, cpw_hello *h, cpw_error *err)
{
    cpw_err e = cpw_jx_str(obj, "instance", h->instance, sizeof h->instance, false, err);
    if (e)
        return e;
    size_t n = strlen(h->instance);
    bool hex = n == 0 || n == CPW_INSTANCE_HEX;
    for (size_t i = 0; hex && i < n; i++)
        hex = (h->instance[i] >= '0' && h->instance[i] <= '9') ||
              (h->instance[i] >= 'a' && h->instance[i] <= 'f');
    if (!hex) {
        h->instance[0] = '\0';
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, "instance",
                        "field \"instance\" must be %d lowercase hex characters", CPW_INSTANCE_HEX);
    }
    return CPW_OK;
}

cpw_err cpw_hello_read_members(const void *json_obj, cpw_hello *h, cpw_error *err)
{
    json_t *obj = (json_t *)json_obj;
    cpw_err e = cpw_jx_str(obj, "name", h->name, sizeof h->name, true, err);
    if (e)
        return e;
    int64_t v = 0;
    if ((e = cpw_jx_int(obj, "pid", 0, INT32_MAX, &v, false, err)))
        return e;
    h->pid = (int)v;
    v = 0;
    if ((e = cpw_jx_int(obj, "start_ts_us", 0, INT64_MAX, &v, false, err)))
        return e;
    h->start_ts_us = v;
    if ((e = cpw_jx_str(obj, "agent_version", h->agent_version, sizeof h->agent_version, false,
                        err)))
        return e;
    return read_topology(obj, h, err);
}

static cpw_err read_topology(json_t *obj, cpw_hello *h, cpw_error *err)
{
    cpw_err e = read_instance(obj, h, err);
    if (e)
        return e;
    json_t *ops = json_object_get(obj, "operators");
    if (!ops)
        return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, "operators",
                        "required field \"operators\" is missing");
    if (!json_is_array(ops))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "operators", "field \"operators\" must be an array");
    if (json_array_size(ops) > CPW_MAX_OPERATORS)
        return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "operators", "more than %d operators",
                        CPW_MAX_OPERATORS);
    int total = 0;
    h->n_ops = 0;
    for (size_t i = 0; i < json_array_size(ops); i++) {
        json_t *o = json_array_get(ops, i);
        if (!json_is_object(o))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "operators",
                            "operators[%zu] must be an object", i);
        int64_t par;
        if ((e = cpw_jx_str(o, "name", h->ops[i].name, sizeof h->ops[i].name, true, err)))
            return e;
        if ((e = cpw_jx_int(o, "parallelism", 1, CPW_MAX_PARALLELISM, &par, true, err)))
            return e;
        total += (int)par;
        if (total > CPW_MAX_SUBTASKS)
            return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "operators", "more than %d subtasks in all",
                            CPW_MAX_SUBTASKS);
        h->ops[i].parallelism = (int)par;
        h->n_ops = (int)i + 1;
    }
    json_t *edges = json_object_get(obj, "edges");
    h->n_edges = 0;
    if (edges) {
        if (!json_is_array(edges))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "edges", "field \"edges\" must be an array");
        if (json_array_size(edges) > CPW_MAX_EDGES)
            return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "edges", "more than %d edges", CPW_MAX_EDGES);
        for (size_t i = 0; i < json_array_size(edges); i++) {
            json_t *o = json_array_get(edges, i);
            if (!json_is_object(o))
                return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "edges", "edges[%zu] must be an object", i);
            int64_t from, to;
            if ((e = cpw_jx_int(o, "from", 0, h->n_ops - 1, &from, true, err)) ||
                (e = cpw_jx_int(o, "to", 0, h->n_ops - 1, &to, true, err)) ||
                (e = cpw_jx_str(o, "kind", h->edges[i].kind, sizeof h->edges[i].kind, false, err)))
                return e;
            h->edges[i].from = (int)from;
            h->edges[i].to = (int)to;
            h->n_edges = (int)i + 1;
        }
    }
    json_t *cfg = json_object_get(obj, "config");
    h->n_config = 0;
    if (cfg) {
        if (!json_is_object(cfg))
            return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, "config", "field \"config\" must be an object");
        if (json_object_size(cfg) > CPW_MAX_CONFIG)
            return cpw_fail(err, CPW_ERR_TOO_MANY, 0, "config", "more than %d config entries",
                            CPW_MAX_CONFIG);
        const char *k;
        json_t *v;
        json_object_foreach(cfg, k, v) {
            int i = h->n_config;
            if (strlen(k) >= CPW_NAME_MAX)
                return cpw_fail(err, CPW_ERR_STRING_TOO_LONG, 0, "config", "config key too long");
            if (!json_is_string(v))
                return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, k, "config value \"%s\" must be a string", k);
            if (json_string_length(v) >= CPW_VALUE_MAX)
                return cpw_fail(err, CPW_ERR_STRING_TOO_LONG, 0, k, "config value \"%s\" too long", k);
            strcpy(h->config_keys[i], k);
            memcpy(h->config_values[i], json_string_value(v), json_string_length(v) + 1);
            h->n_config++;
        }
    }
    return cpw_failure_decode(obj, h, err);
}
