/* cpw_jx.c — bounded field readers over jansson values (see cpw_jx.h). */
#include "cpw_jx.h"
#include "cpw_failure.h"
#include "cpw_json.h"

#include <string.h>

cpw_err cpw_jx_int(json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                   bool required, cpw_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (!required)
            return CPW_OK;
        return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, key, "required field \"%s\" is missing", key);
    }
    if (!json_is_integer(v))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, key, "field \"%s\" must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return cpw_fail(err, CPW_ERR_BAD_VALUE, 0, key, "field \"%s\" must be in [%lld, %lld]",
                        key, (long long)min, (long long)max);
    *out = x;
    return CPW_OK;
}

cpw_err cpw_jx_str(json_t *obj, const char *key, char *out, size_t size, bool required,
                   cpw_error *err)
{
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (!v) {
        if (!required)
            return CPW_OK;
        return cpw_fail(err, CPW_ERR_MISSING_FIELD, 0, key, "required field \"%s\" is missing", key);
    }
    if (!json_is_string(v))
        return cpw_fail(err, CPW_ERR_WRONG_TYPE, 0, key, "field \"%s\" must be a string", key);
    size_t n = json_string_length(v);
    if (n >= size)
        return cpw_fail(err, CPW_ERR_STRING_TOO_LONG, 0, key, "field \"%s\" longer than %zu bytes",
                        key, size - 1);
    memcpy(out, json_string_value(v), n + 1);
    return CPW_OK;
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

cpw_err cpw_jx_topology(json_t *obj, cpw_hello *h, cpw_error *err)
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
