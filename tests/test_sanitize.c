/* test_sanitize.c — the one rule for text from a job or from disk
 * (cpw_char_hidden) and its three users: cpw_sanitize for terminals,
 * cpw_json_sanitize for --json, and the dashboard's frame. */
#include "cpt_frame.h"
#include "cpt_test.h"
#include "cpw.h"

#include <jansson.h>

/* UTF-8 of cp into out (NUL-terminated); its length. */
static int utf8(uint32_t cp, char *out)
{
    int n;
    if (cp < 0x80) {
        out[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        out[0] = (char)(0xF0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), out[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    out[n] = '\0';
    return n;
}

/* The hostile strings of the attack reports. */
static const char *const hostile[] = {
    "\x1b[2J\x1b[H", "\x1b]0;title\x07", "\xc2\x9b" "31m", "\xe2\x80\xae" "evil",
    "\xe2\x81\xa6" "iso", "zero\xe2\x80\x8bwidth", "\xef\xbb\xbf" "bom", "\xf3\xa0\x81\x81" "tag",
    "line\xe2\x80\xa8sep", "\x7f", "\r\n\t",
};

CPT_TEST(hidden_covers_controls_bidi_and_format_characters)
{
    static const uint32_t yes[] = {0x00, 0x1B, 0x7F, 0x80, 0x85, 0x9B, 0x9F, 0xAD, 0x061C,
                                   0x200B, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202E,
                                   0x2060, 0x2066, 0x2069, 0xFEFF, 0xFFF9, 0xE0001, 0xE0041,
                                   0xE007F};
    static const uint32_t no[] = {' ', 'A', '~', 0xA0, 0xE9, 0x05D0, 0x0627, 0x2013, 0x20AC,
                                  0x65E5, 0x1F600, 0x10FFFF, 0x202F, 0x2065 + 0x100};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        CPT_ASSERTF(cpw_char_hidden(yes[i]), "U+%04X should be hidden", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CPT_ASSERTF(!cpw_char_hidden(no[i]), "U+%04X should be shown", no[i]);
}

CPT_TEST(sanitize_shows_each_hidden_character_as_one_question_mark)
{
    char out[256];
    cpw_sanitize("a\xe2\x80\xae" "b\xe2\x81\xa6" "c\xc2\x9b" "d\xf3\xa0\x81\x81" "e", out, sizeof out);
    CPT_EQ_STR(out, "a?b?c?d?e");
    cpw_sanitize("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", out, sizeof out);
    CPT_EQ_STR(out, "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
    /* every code point: kept exactly when not hidden */
    for (uint32_t cp = 1; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char in[8];
        utf8(cp, in);
        cpw_sanitize(in, out, sizeof out);
        if (cpw_char_hidden(cp))
            CPT_ASSERTF(!strcmp(out, "?"), "U+%04X gave \"%s\"", cp, out);
        else
            CPT_ASSERTF(!strcmp(out, in), "U+%04X was changed", cp);
    }
}

/* JSON text through cpw_json_sanitize: same meaning, no hidden character
 * left raw, every one of them as a \u escape. */
static char *json_clean(const char *json)
{
    cpw_buf b;
    cpw_buf_init(&b);
    cpw_json_sanitize(&b, json, strlen(json));
    CPT_ASSERT(!b.failed);
    char *s = strndup(b.data ? b.data : "", b.len);
    cpw_buf_free(&b);
    size_t avail = strlen(s);
    for (const char *p = s; *p;) {
        uint32_t cp;
        size_t n = cpw_utf8_next(p, avail, &cp);
        CPT_ASSERTF(n && !cpw_char_hidden(cp), "raw U+%04X left in %s", cp, s);
        p += n, avail -= n;
    }
    return s;
}

CPT_TEST(json_sanitize_escapes_hidden_characters_and_keeps_the_meaning)
{
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        json_t *v = json_pack("{s:s,s:[s]}", "name", hostile[i], "k", hostile[i]);
        char *enc = json_dumps(v, JSON_COMPACT);
        char *clean = json_clean(enc);
        json_t *back = json_loads(clean, 0, NULL);
        CPT_ASSERTF(back && json_equal(v, back), "meaning changed: %s -> %s", enc, clean);
        json_decref(back);
        json_decref(v);
        free(enc);
        free(clean);
    }
    char *s = json_clean("{\"a\":\"x\xc2\x9by\xe2\x80\xae" "z\xf3\xa0\x81\x81\"}");
    CPT_EQ_STR(s, "{\"a\":\"x\\u009by\\u202ez\\udb40\\udc41\"}");
    free(s);
    /* escapes already there stay as written; text outside strings is untouched */
    s = json_clean("[\"\\\"\\u001b\", 1, true]");
    CPT_EQ_STR(s, "[\"\\\"\\u001b\", 1, true]");
    free(s);
    /* bytes that are not UTF-8 become U+FFFD */
    s = json_clean("[\"a\xff" "b\"]");
    CPT_EQ_STR(s, "[\"a\\ufffdb\"]");
    free(s);
}

CPT_TEST(the_frame_draws_hidden_characters_as_question_marks)
{
    cpt_frame f = {0};
    CPT_EQ_INT(cpt_frame_resize(&f, 40, 1), 0);
    int w = cpt_frame_put(&f, 0, 0, CPT_R_NORMAL, "a\xe2\x80\xae" "b\xc2\x9b" "c\x1b" "d", -1);
    CPT_EQ_INT(w, 7);
    const char *want = "a?b?c?d";
    for (int i = 0; i < 7; i++)
        CPT_EQ_INT(f.cells[i].ch, (uint32_t)want[i]);
    cpt_frame_free(&f);
}
