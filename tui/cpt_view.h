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

#endif /* CPT_VIEW_H */
