/* See progress.h. */
#include "runtime/logs/progress.h"

#include <unistd.h>

void rt_progress_start(RtProgress *p, FILE *f, const char *what, int64_t total) {
    p->f = f;
    p->tty = f && isatty(fileno(f));
    p->what = what;
    p->total = total > 0 ? total : 1;
    p->next_line = p->total / 10;
    p->t0 = p->last_draw = rt_now();
}

void rt_progress_update(RtProgress *p, int64_t done) {
    if (!p->f) return;
    double now = rt_now(), dt = now - p->t0, rate = dt > 0 ? done / dt : 0;
    double eta = rate > 0 ? (p->total - done) / rate : 0;
    if (p->tty) {
        if (now - p->last_draw < 0.1 && done < p->total) return;
        p->last_draw = now;
        int w = 30, fill = (int)(w * done / p->total);
        fprintf(p->f, "\r  %s [", p->what);
        for (int i = 0; i < w; i++) fputc(i < fill ? '#' : ' ', p->f);
        fprintf(p->f, "] %lld/%lld  %.1f/s  ETA %d:%02d ", (long long)done, (long long)p->total, rate,
                (int)eta / 60, (int)eta % 60);
    } else if (done >= p->next_line && done < p->total) {
        fprintf(p->f, "  %s %lld of %lld (%.1f/s, %d s left)\n", p->what, (long long)done,
                (long long)p->total, rate, (int)eta);
        while (p->next_line <= done) p->next_line += p->total / 10 > 0 ? p->total / 10 : 1;
    }
    fflush(p->f);
}

void rt_progress_end(RtProgress *p) {
    if (p->f && p->tty) {
        fputc('\n', p->f);
        fflush(p->f);
    }
}
