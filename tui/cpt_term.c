/* cpt_term.c — see cpt_term.h. The one file that includes curses. */
#define NCURSES_WIDECHAR 1
#include "cpt_term.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpt_ui.h"

static bool open_;
static attr_t role_attr[CPT_R__COUNT];
/* The frame last given to curses: a row that has not changed since is not
 * given again (turning UTF-8 into curses' cells for every cell of every
 * row was most of a draw's cost; curses then sends only what differs). */
static cpt_cell *shown;
static int shown_w, shown_h;

/* role -> (foreground, attributes) when colours are available */
static void setup_roles(bool color)
{
    static const struct {
        short fg;
        attr_t attr;
        attr_t mono;
    } map[CPT_R__COUNT] = {
        [CPT_R_NORMAL] = {-1, 0, 0},
        [CPT_R_TITLE] = {COLOR_CYAN, A_BOLD, A_BOLD},
        [CPT_R_LABEL] = {COLOR_CYAN, 0, A_BOLD},
        [CPT_R_DIM] = {-1, A_DIM, A_DIM},
        [CPT_R_GOOD] = {COLOR_GREEN, 0, 0},
        [CPT_R_WARN] = {COLOR_YELLOW, A_BOLD, A_BOLD},
        [CPT_R_BAD] = {COLOR_RED, A_BOLD, A_BOLD | A_UNDERLINE},
        [CPT_R_SELECT] = {-1, A_REVERSE, A_REVERSE},
        [CPT_R_BAR] = {COLOR_GREEN, 0, 0},
        [CPT_R_BAR_WARN] = {COLOR_RED, A_BOLD, A_BOLD},
        [CPT_R_BAR_EMPTY] = {-1, A_DIM, A_DIM},
        [CPT_R_PENDING] = {-1, A_DIM, A_DIM},
        [CPT_R_ALIGNING] = {COLOR_YELLOW, A_BOLD, A_BOLD},
        [CPT_R_SYNC] = {COLOR_MAGENTA, 0, 0},
        [CPT_R_ASYNC] = {COLOR_BLUE, A_BOLD, 0},
        [CPT_R_ACKED] = {COLOR_GREEN, 0, 0},
        [CPT_R_DECLINED] = {COLOR_RED, A_BOLD, A_BOLD},
        [CPT_R_KEY] = {COLOR_CYAN, A_BOLD, A_BOLD},
        [CPT_R_STATUS] = {COLOR_CYAN, 0, 0},
        [CPT_R_OVERLAY] = {-1, A_BOLD, A_BOLD},
    };
    for (int r = 0; r < CPT_R__COUNT; r++) {
        if (color && map[r].fg >= 0) {
            init_pair((short)(r + 1), map[r].fg, -1);
            role_attr[r] = COLOR_PAIR(r + 1) | map[r].attr;
        } else {
            role_attr[r] = color ? map[r].attr : map[r].mono;
        }
    }
}

int cpt_term_open(bool use_color, char *err, size_t errsz)
{
    setlocale(LC_ALL, "");
    if (!isatty(0) || !isatty(1)) {
        snprintf(err, errsz, "the dashboard needs a terminal (use --once, --json or ctl in scripts)");
        return -1;
    }
    const char *term = getenv("TERM");
    if (!term || !*term || !strcmp(term, "dumb")) {
        snprintf(err, errsz, "TERM is %s: the dashboard needs a real terminal", term && *term ? term : "unset");
        return -1;
    }
    if (!initscr()) {
        snprintf(err, errsz, "cannot start curses on TERM=%s", term);
        return -1;
    }
    open_ = true;
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    /* no look for typed-ahead keys during each update (a poll of the
     * keyboard per draw): the loop reads keys as soon as there are some */
    typeahead(-1);
    /* rows that moved are written again rather than scrolled: a dashboard
     * of a few dozen rows gains nothing from curses' search for scrolls,
     * which cost more than the rest of a draw */
    idlok(stdscr, FALSE);
    curs_set(0);
    const char *nc = getenv("NO_COLOR"); /* no-color.org: set and not empty */
    bool color = use_color && has_colors() && !(nc && *nc);
    if (color) {
        start_color();
        use_default_colors();
    }
    setup_roles(color);
    return 0;
}

void cpt_term_close(void)
{
    if (!open_)
        return;
    open_ = false;
    free(shown);
    shown = NULL;
    shown_w = shown_h = 0;
    curs_set(1);
    endwin();
}

bool cpt_term_unicode(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && !strcmp(cs, "UTF-8");
}

void cpt_term_size(int *w, int *h)
{
    int y, x;
    getmaxyx(stdscr, y, x);
    *w = x;
    *h = y;
}

static bool row_same(const cpt_frame *f, int y)
{
    if (!shown || f->w != shown_w || f->h != shown_h)
        return false;
    const cpt_cell *a = f->cells + (size_t)y * f->w, *b = shown + (size_t)y * f->w;
    for (int x = 0; x < f->w; x++)
        if (a[x].ch != b[x].ch || a[x].role != b[x].role)
            return false;
    return true;
}

static void keep_shown(const cpt_frame *f)
{
    size_t n = (size_t)f->w * f->h;
    if (f->w != shown_w || f->h != shown_h) {
        free(shown);
        shown = malloc(n * sizeof *shown);
        shown_w = shown ? f->w : 0;
        shown_h = shown ? f->h : 0;
    }
    if (shown)
        memcpy(shown, f->cells, n * sizeof *shown);
}

void cpt_term_draw(const cpt_frame *f)
{
    wchar_t buf[1024];
    int rows = f->h < LINES ? f->h : LINES, cols = f->w < COLS ? f->w : COLS;
    for (int y = 0; y < rows; y++) {
        if (row_same(f, y))
            continue;
        const cpt_cell *row = f->cells + (size_t)y * f->w;
        int x = 0;
        while (x < cols) {
            /* one run of cells with the same role, as wide characters: the
             * cells hold code points, and curses takes them without a
             * round trip through UTF-8 */
            int r = row[x].role, n = 0;
            while (x + n < cols && row[x + n].role == r && n < (int)(sizeof buf / sizeof buf[0]))
                buf[n] = (wchar_t)row[x + n].ch, n++;
            attrset(role_attr[r < CPT_R__COUNT ? r : 0]);
            /* the last cell of the screen: curses would scroll; it is
             * written anyway, and the error that reports it is ignored */
            mvaddnwstr(y, x, buf, n);
            x += n;
        }
    }
    attrset(A_NORMAL);
    refresh();
    keep_shown(f);
}

int cpt_term_key(void)
{
    int c = getch();
    switch (c) {
    case ERR: return CPT_KEY_NONE;
    case KEY_UP: return CPT_KEY_UP;
    case KEY_DOWN: return CPT_KEY_DOWN;
    case KEY_LEFT: return CPT_KEY_LEFT;
    case KEY_RIGHT: return CPT_KEY_RIGHT;
    case KEY_PPAGE: return CPT_KEY_PGUP;
    case KEY_NPAGE: return CPT_KEY_PGDN;
    case KEY_HOME: return CPT_KEY_HOME;
    case KEY_END: return CPT_KEY_END;
    case KEY_F(1): return CPT_KEY_F1;
    case KEY_BTAB: return CPT_KEY_BTAB;
    case KEY_RESIZE:
        shown_w = shown_h = 0; /* curses' screen was made again: every row */
        return CPT_KEY_RESIZE;
    case KEY_ENTER: case '\r': case '\n': return CPT_KEY_ENTER;
    case KEY_BACKSPACE: case 8: case 127: return CPT_KEY_BACKSPACE;
    default: return c >= 0 && c < 256 ? c : CPT_KEY_NONE;
    }
}
