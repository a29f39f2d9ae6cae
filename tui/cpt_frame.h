/*
 * cpt_frame.h — a frame: the text and colour roles of one screen, filled by
 * the pure view (cpt_view.c) and drawn by the terminal layer (cpt_term.c).
 * Keeping a frame in memory lets tests compare whole screens with golden
 * files, with no terminal involved.
 *
 * Cells hold one Unicode code point each, always one column wide: text put
 * into a frame is sanitised (control characters, wide and combining
 * characters become '?'), so what reaches the terminal is exactly what the
 * frame says. Not thread-safe.
 */
#ifndef CPT_FRAME_H
#define CPT_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Colour roles (htop-style): the view names what a cell means, the terminal
 * layer decides how that looks (colour, bold, reverse, or nothing). */
typedef enum cpt_role {
    CPT_R_NORMAL = 0,
    CPT_R_TITLE,      /* pane titles, the header's job name */
    CPT_R_LABEL,      /* column headers, field names */
    CPT_R_DIM,        /* secondary text */
    CPT_R_GOOD,       /* running, completed, acknowledged */
    CPT_R_WARN,       /* restarting, slow, close to a limit */
    CPT_R_BAD,        /* failed, declined, disconnected */
    CPT_R_SELECT,     /* the selected row */
    CPT_R_BAR,        /* progress bar, filled part */
    CPT_R_BAR_WARN,   /* progress bar past 75 % of the timeout */
    CPT_R_BAR_EMPTY,
    CPT_R_PENDING,    /* subtask phases, in order */
    CPT_R_ALIGNING,
    CPT_R_SYNC,
    CPT_R_ASYNC,
    CPT_R_ACKED,
    CPT_R_DECLINED,
    CPT_R_KEY,        /* key names in the footer and help */
    CPT_R_STATUS,     /* the status line */
    CPT_R_OVERLAY,    /* dialogs and the help overlay */
    CPT_R__COUNT
} cpt_role;

typedef struct cpt_cell {
    uint32_t ch;      /* code point, one column */
    uint8_t role;     /* cpt_role */
} cpt_cell;

typedef struct cpt_frame {
    int w, h;
    cpt_cell *cells;  /* w*h, row-major */
} cpt_frame;

/* Sizes (and clears) a frame; 0 on success, -1 when out of memory. Sizes are
 * clamped to 1..1000 columns and 1..500 rows. */
int cpt_frame_resize(cpt_frame *f, int w, int h);
void cpt_frame_free(cpt_frame *f);
/* Blanks every cell to ' ' with role NORMAL. */
void cpt_frame_clear(cpt_frame *f);

/* Writes UTF-8 text at (x, y), at most maxw columns (maxw < 0: to the right
 * edge). Unsafe characters become '?'. Returns the columns written. */
int cpt_frame_put(cpt_frame *f, int x, int y, cpt_role role, const char *utf8, int maxw);
/* printf into the frame; same rules as cpt_frame_put. */
int cpt_frame_printf(cpt_frame *f, int x, int y, cpt_role role, int maxw, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* One code point, repeated n times. */
void cpt_frame_fill(cpt_frame *f, int x, int y, int n, uint32_t ch, cpt_role role);
/* Changes the role of n cells, keeping their text (selection highlight). */
void cpt_frame_role(cpt_frame *f, int x, int y, int n, cpt_role role);
const cpt_cell *cpt_frame_at(const cpt_frame *f, int x, int y);

/* The frame as UTF-8 text, one line per row with trailing blanks trimmed,
 * each ending in '\n'. Caller frees. NULL when out of memory. */
char *cpt_frame_text(const cpt_frame *f);
/* Appends one row as UTF-8 (no newline, blanks kept) to out (size bytes);
 * returns the bytes written. Used by the terminal layer. */
size_t cpt_frame_row_utf8(const cpt_frame *f, int y, int x0, int n, char *out, size_t size);

/* Display width of UTF-8 text as cpt_frame_put would write it. */
int cpt_text_width(const char *utf8);

#endif /* CPT_FRAME_H */
