/*
 * cpt_term.h — the only part of cptop that talks to curses: start and stop
 * the terminal, draw a frame, read keys as cpt_key codes. Colours are
 * chosen here from the view's roles; with no colour support, or NO_COLOR
 * set, roles map to bold/reverse/dim or to nothing.
 */
#ifndef CPT_TERM_H
#define CPT_TERM_H

#include <stdbool.h>

#include "cpt_frame.h"

/* Starts curses on the terminal. use_color false forces monochrome.
 * Returns 0, or -1 when there is no usable terminal (message in err). */
int cpt_term_open(bool use_color, char *err, size_t errsz);
/* Restores the terminal. Safe to call twice. */
void cpt_term_close(void);
/* Whether the locale can draw Unicode glyphs (UTF-8). */
bool cpt_term_unicode(void);
/* The terminal's size now. */
void cpt_term_size(int *w, int *h);
/* Draws a frame and refreshes (curses sends only what changed). */
void cpt_term_draw(const cpt_frame *f);
/* The next key without waiting, as a cpt_key code, or CPT_KEY_NONE. */
int cpt_term_key(void);

#endif /* CPT_TERM_H */
