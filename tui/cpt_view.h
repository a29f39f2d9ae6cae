/*
 * cpt_view.h — the pure render: model + ui state + the time → a frame.
 *
 * No curses, no clock, no I/O: the same inputs always give the same frame,
 * which is what the golden-frame tests compare. Besides filling the frame
 * it records layout facts the key handling needs (page size, whether the
 * events pane fitted, the history scroll) in the ui.
 */
#ifndef CPT_VIEW_H
#define CPT_VIEW_H

#include "cpt_frame.h"
#include "cpt_model.h"
#include "cpt_ui.h"

/* Renders into f (already sized; at least 80x24 is readable, smaller still
 * renders without overflowing). now_us is the wall clock in µs. */
void cpt_view_render(cpt_model *m, cpt_ui *ui, cpt_frame *f, int64_t now_us);

/* Formatting helpers the non-interactive modes share. */
void cpt_fmt_dur(char *out, size_t n, int64_t us);    /* "850us" "12.3ms" "4.2s" "3m05s" "1h02m" */
void cpt_fmt_bytes(char *out, size_t n, int64_t b);   /* "512 B" "1.2 KiB" "3.4 MiB" */

#endif /* CPT_VIEW_H */
