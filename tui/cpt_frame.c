/* cpt_frame.c — see cpt_frame.h. */
#include "cpt_frame.h"
#include "cpw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cpt_frame_resize(cpt_frame *f, int w, int h)
{
    w = w < 1 ? 1 : w > 1000 ? 1000 : w;
    h = h < 1 ? 1 : h > 500 ? 500 : h;
    if (w != f->w || h != f->h || !f->cells) {
        cpt_cell *c = realloc(f->cells, (size_t)w * (size_t)h * sizeof *c);
        if (!c)
            return -1;
        f->cells = c;
        f->w = w;
        f->h = h;
    }
    cpt_frame_clear(f);
    return 0;
}

void cpt_frame_free(cpt_frame *f)
{
    free(f->cells);
    f->cells = NULL;
    f->w = f->h = 0;
}

void cpt_frame_clear(cpt_frame *f)
{
    for (int i = 0; i < f->w * f->h; i++)
        f->cells[i] = (cpt_cell){.ch = ' ', .role = CPT_R_NORMAL};
}

/* Decodes one UTF-8 sequence with the protocol's decoder; returns its
 * length (>= 1) and the code point, or 0xFFFD for anything malformed (then
 * consumes one byte). */
static inline int utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) { /* most of what is drawn: no call */
        *cp = s[0];
        return 1;
    }
    size_t n = cpw_utf8_next((const char *)s, strnlen((const char *)s, 4), cp);
    if (n)
        return (int)n;
    *cp = 0xFFFD;
    return 1;
}

/* Whether a code point is safe and one column wide on every terminal we
 * know; everything else is drawn as '?'. Deliberately conservative: wide
 * East Asian ranges, emoji, combining marks and format characters would
 * shift every column after them. */
static inline int one_column(uint32_t c)
{
    if (c < 0x80)
        return c >= 0x20 && c != 0x7F; /* cpw_char_hidden's rule for ASCII, inline */
    if (cpw_char_hidden(c))
        return 0; /* controls, bidi and format characters (cpw_sanitize's rule) */
    if ((c >= 0x300 && c <= 0x36F) || (c >= 0x483 && c <= 0x489) ||
        (c >= 0x591 && c <= 0x5C7) || (c >= 0x610 && c <= 0x61A) || (c >= 0x64B && c <= 0x65F))
        return 0; /* combining */
    if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x200B && c <= 0x200F) ||
        (c >= 0x2028 && c <= 0x202E) || (c >= 0x2060 && c <= 0x206F) ||
        (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) ||
        (c >= 0xE000 && c <= 0xF8FF) || (c >= 0xF900 && c <= 0xFAFF) ||
        (c >= 0xFE00 && c <= 0xFE6F) || (c >= 0xFF00 && c <= 0xFF60) ||
        (c >= 0xFFE0 && c <= 0xFFE6) || c >= 0xFFF0)
        return 0; /* wide, bidi/format, private use, variation selectors */
    if (c >= 0x1F000)
        return 0; /* emoji and beyond */
    return 1;
}

int cpt_frame_put(cpt_frame *f, int x, int y, cpt_role role, const char *utf8, int maxw)
{
    if (y < 0 || y >= f->h || x >= f->w || !utf8)
        return 0;
    int lim = f->w - x;
    if (maxw >= 0 && maxw < lim)
        lim = maxw;
    const unsigned char *s = (const unsigned char *)utf8;
    int n = 0;
    while (*s && n < lim) {
        uint32_t c;
        s += utf8_next(s, &c);
        if (!one_column(c))
            c = '?';
        if (x + n >= 0)
            f->cells[y * f->w + x + n] = (cpt_cell){.ch = c, .role = (uint8_t)role};
        n++;
    }
    return n;
}

int cpt_frame_printf(cpt_frame *f, int x, int y, cpt_role role, int maxw, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cpt_frame_put(f, x, y, role, buf, maxw);
}

void cpt_frame_fill(cpt_frame *f, int x, int y, int n, uint32_t ch, cpt_role role)
{
    if (y < 0 || y >= f->h)
        return;
    for (int i = 0; i < n; i++)
        if (x + i >= 0 && x + i < f->w)
            f->cells[y * f->w + x + i] = (cpt_cell){.ch = ch, .role = (uint8_t)role};
}

void cpt_frame_role(cpt_frame *f, int x, int y, int n, cpt_role role)
{
    if (y < 0 || y >= f->h)
        return;
    for (int i = 0; i < n; i++)
        if (x + i >= 0 && x + i < f->w)
            f->cells[y * f->w + x + i].role = (uint8_t)role;
}

const cpt_cell *cpt_frame_at(const cpt_frame *f, int x, int y)
{
    if (x < 0 || y < 0 || x >= f->w || y >= f->h)
        return NULL;
    return &f->cells[y * f->w + x];
}

static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    } else if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    } else if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

size_t cpt_frame_row_utf8(const cpt_frame *f, int y, int x0, int n, char *out, size_t size)
{
    size_t len = 0;
    for (int x = x0; x < x0 + n && x < f->w && len + 5 < size; x++)
        len += put_utf8(out + len, f->cells[y * f->w + x].ch);
    if (size)
        out[len] = 0;
    return len;
}

char *cpt_frame_text(const cpt_frame *f)
{
    size_t cap = (size_t)f->h * ((size_t)f->w * 4 + 1) + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t len = 0;
    for (int y = 0; y < f->h; y++) {
        size_t start = len;
        len += cpt_frame_row_utf8(f, y, 0, f->w, out + len, cap - len);
        while (len > start && out[len - 1] == ' ')
            len--;
        out[len++] = '\n';
    }
    out[len] = 0;
    return out;
}

int cpt_text_width(const char *utf8)
{
    const unsigned char *s = (const unsigned char *)utf8;
    int n = 0;
    while (*s) {
        uint32_t c;
        s += utf8_next(s, &c);
        n++;
    }
    return n;
}
