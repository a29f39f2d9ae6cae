/*
 * cpt_golden.h — golden frames for the view's tests: a rendered frame
 * compared with tests/golden/NAME.txt.
 *
 * With CPT_UPDATE_GOLDEN set in the environment the file is (re)written
 * instead; review the diff. A mismatch fails the test naming the first
 * differing line and keeps the frame in /tmp/cpt-golden-NAME.txt.
 */
#ifndef CPT_GOLDEN_H
#define CPT_GOLDEN_H

#include "cpt_frame.h"

/* Compares f's text with the golden NAME (fails the test on a mismatch). */
void cpt_golden_check(const char *name, const cpt_frame *f);

#endif /* CPT_GOLDEN_H */
