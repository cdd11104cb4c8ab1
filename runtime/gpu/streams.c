/* See streams.h. Memory is cut into elementary segments at every span's ends; each segment
 * remembers its last writer and, per stream, its last reader since then (an earlier one on the
 * same stream runs before it anyway). */
#include "runtime/gpu/streams.h"

#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

/* index of the segment starting at p (p is one of the cuts) */
static int seg_of(const uintptr_t *cut, int n, uintptr_t p) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cut[mid] < p) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* gpu_schedule's state: the segments, who last wrote and read each, and what each stream has waited for */
typedef struct {
    const int *span_start;
    const GpuSpan *spans;
    int S;          /* streams */
    uintptr_t *cut; /* the segments' ends, sorted, distinct */
    int n_cut, n_seg;
    int *writer;  /* per segment: its last writer */
    int *reader;  /* [seg][stream]: its last reader on the stream since then */
    int *dep;     /* per stream: the latest conflicting item on it */
    int *tail;    /* per stream: its last item */
    int *waited;  /* [s][t]: s's next item runs after t's item this */
    int *known;   /* [i][t]: done when item i is */
    char *pinned; /* per stream: items are pinned to it (no other takes it) */
    int cap, n_wait;
} Sched;

static void sched_free(Sched *q) {
    free(q->cut), free(q->writer), free(q->reader), free(q->dep), free(q->tail), free(q->waited), free(q->known);
    free(q->pinned);
}

/* the cuts: every non-empty span's ends, sorted, each once; -1 when out of memory */
static int find_cuts(Sched *q, int n_spans) {
    q->cut = fn_malloc(((size_t)2 * n_spans + 1) * sizeof *q->cut);
    if (!q->cut) return -1;
    uintptr_t *cut = q->cut;
    int n_cut = 0;
    for (int k = 0; k < n_spans; k++)
        if (q->spans[k].hi > q->spans[k].lo) {
            cut[n_cut++] = q->spans[k].lo;
            cut[n_cut++] = q->spans[k].hi;
        }
    qsort(cut, (size_t)n_cut, sizeof *cut, cmp_ptr);
    int u = 0;
    for (int k = 0; k < n_cut; k++)
        if (!u || cut[k] != cut[u - 1]) cut[u++] = cut[k];
    q->n_cut = u;
    q->n_seg = u > 0 ? u - 1 : 0;
    return 0;
}

/* the tables of q and s, initialised; -1 (all freed) when out of memory */
static int sched_alloc(Sched *q, GpuSchedule *s, int n_items) {
    int n_seg = q->n_seg, S = q->S;
    q->writer = fn_malloc(((size_t)n_seg + 1) * sizeof *q->writer);
    q->reader = fn_malloc(((size_t)n_seg * S + 1) * sizeof *q->reader);
    for (int k = 0; q->writer && k < n_seg; k++) q->writer[k] = -1;
    for (int k = 0; q->reader && k < n_seg * S; k++) q->reader[k] = -1;
    s->stream = fn_malloc(((size_t)n_items + 1) * sizeof *s->stream);
    s->wait_start = fn_malloc(((size_t)n_items + 1) * sizeof *s->wait_start);
    s->record = fn_calloc((size_t)n_items + 1, 1);
    s->stream_items = fn_calloc((size_t)S, sizeof *s->stream_items);
    q->dep = fn_malloc((size_t)S * sizeof *q->dep);
    q->tail = fn_malloc((size_t)S * sizeof *q->tail);
    q->waited = fn_malloc((size_t)S * S * sizeof *q->waited);
    q->known = fn_malloc(((size_t)n_items * S + 1) * sizeof *q->known);
    q->pinned = fn_calloc((size_t)S, 1);
    q->cap = 64;
    s->wait_item = fn_malloc((size_t)q->cap * sizeof *s->wait_item);
    if (!q->cut || !q->writer || !q->reader || !s->stream || !s->wait_start || !s->record || !q->dep || !q->tail ||
        !q->waited || !q->known || !q->pinned || !s->wait_item) {
        sched_free(q);
        gpu_schedule_free(s);
        return -1;
    }
    for (int t = 0; t < S; t++) q->tail[t] = -1;
    for (int k = 0; k < S * S; k++) q->waited[k] = -1;
    return 0;
}

/* dep: per stream, the latest item there that item i conflicts with */
static void find_deps(Sched *q, const GpuSchedule *s, int i) {
    int S = q->S, *dep = q->dep;
    for (int t = 0; t < S; t++) dep[t] = -1;
    for (int k = q->span_start[i]; k < q->span_start[i + 1]; k++) {
        const GpuSpan *sp = &q->spans[k];
        if (sp->hi <= sp->lo) continue;
        for (int g = seg_of(q->cut, q->n_cut, sp->lo); g < q->n_seg && q->cut[g] < sp->hi; g++) {
            int w = q->writer[g];
            if (w >= 0 && w > dep[s->stream[w]]) dep[s->stream[w]] = w;
            if (!sp->writes) continue;
            for (int t = 0; t < S; t++)
                if (q->reader[g * S + t] > dep[t]) dep[t] = q->reader[g * S + t];
        }
    }
}

/* the stream: the one whose last item this conflicts with (the latest), else the one idle
   longest (an empty one first) */
static int pick_stream(const Sched *q) {
    int st = -1;
    for (int t = 0; t < q->S; t++)
        if (!q->pinned[t] && q->tail[t] >= 0 && q->dep[t] == q->tail[t] && (st < 0 || q->tail[t] > q->tail[st])) st = t;
    if (st < 0)
        for (int t = 0; t < q->S; t++)
            if (!q->pinned[t] && (st < 0 || q->tail[t] < q->tail[st])) st = t;
    return st < 0 ? 0 : st; /* every stream pinned: the first */
}

/* item i on stream st: the waits it needs beyond those st has made; -1 (all freed) when out of memory */
static int add_waits(Sched *q, GpuSchedule *s, int i, int st) {
    int S = q->S, *dep = q->dep, *waited = q->waited;
    s->stream[i] = st;
    s->wait_start[i] = q->n_wait;
    for (int t = 0; t < S; t++) {
        if (t == st || dep[t] < 0 || dep[t] <= waited[st * S + t]) continue;
        if (q->n_wait == q->cap) {
            int *grown = fn_realloc(s->wait_item, (size_t)q->cap * 2 * sizeof *grown);
            if (!grown) {
                sched_free(q);
                gpu_schedule_free(s);
                return -1;
            }
            s->wait_item = grown;
            q->cap *= 2;
        }
        s->wait_item[q->n_wait++] = dep[t];
        s->record[dep[t]] = 1;
        for (int v = 0; v < S; v++) /* what was done when dep[t] was, is done now on st too */
            if (q->known[dep[t] * S + v] > waited[st * S + v]) waited[st * S + v] = q->known[dep[t] * S + v];
    }
    waited[st * S + st] = i;
    memcpy(q->known + (size_t)i * S, waited + (size_t)st * S, (size_t)S * sizeof *q->known);
    q->tail[st] = i;
    s->stream_items[st]++;
    return 0;
}

/* item i, on stream st, as the last writer or a reader of its segments */
static void note_spans(Sched *q, int i, int st) {
    int S = q->S;
    for (int k = q->span_start[i]; k < q->span_start[i + 1]; k++) {
        const GpuSpan *sp = &q->spans[k];
        if (sp->hi <= sp->lo) continue;
        for (int g = seg_of(q->cut, q->n_cut, sp->lo); g < q->n_seg && q->cut[g] < sp->hi; g++)
            if (sp->writes) {
                q->writer[g] = i;
                for (int t = 0; t < S; t++) q->reader[g * S + t] = -1;
            } else
                q->reader[g * S + st] = i;
    }
}

int gpu_schedule(GpuSchedule *s, int n_items, const int *span_start, const GpuSpan *spans, int n_streams,
                 const int *pin) {
    memset(s, 0, sizeof *s);
    s->n_items = n_items;
    s->n_streams = n_streams;
    Sched q = {.span_start = span_start, .spans = spans, .S = n_streams};
    if (find_cuts(&q, span_start[n_items]) < 0 || sched_alloc(&q, s, n_items) < 0) return -1;
    for (int i = 0; pin && i < n_items; i++)
        if (pin[i] >= 0 && pin[i] < n_streams) q.pinned[pin[i]] = 1;
    for (int i = 0; i < n_items; i++) {
        find_deps(&q, s, i);
        int st = pin && pin[i] >= 0 && pin[i] < n_streams ? pin[i] : pick_stream(&q);
        if (add_waits(&q, s, i, st) < 0) return -1;
        note_spans(&q, i, st);
    }
    s->wait_start[n_items] = q.n_wait;
    sched_free(&q);
    return 0;
}

static int spans_conflict(const GpuSpan *a, int na, const GpuSpan *b, int nb) {
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if ((a[i].writes || b[j].writes) && a[i].lo < b[j].hi && b[j].lo < a[i].hi) return 1;
    return 0;
}

int gpu_batch_runs(int n_items, const int *span_start, const GpuSpan *spans, int *start) {
    int runs = 0;
    for (int i = 0; i < n_items; i++) {
        int fresh = runs == 0;
        for (int j = runs ? start[runs - 1] : 0; j < i && !fresh; j++)
            fresh = spans_conflict(spans + span_start[j], span_start[j + 1] - span_start[j], spans + span_start[i],
                                   span_start[i + 1] - span_start[i]);
        if (fresh) start[runs++] = i;
    }
    start[runs] = n_items;
    return runs;
}

double gpu_schedule_estimate(const GpuSchedule *s, const double *cost) {
    double *done = fn_malloc(((size_t)s->n_items + 1) * sizeof *done), *free_at = fn_calloc((size_t)s->n_streams, sizeof *free_at);
    double sum = 0, end = 0;
    if (!done || !free_at) { /* out of memory: no overlap modelled */
        free(done);
        free(free_at);
        return 1;
    }
    for (int i = 0; i < s->n_items; i++) {
        double start = free_at[s->stream[i]];
        for (int k = s->wait_start[i]; k < s->wait_start[i + 1]; k++)
            if (done[s->wait_item[k]] > start) start = done[s->wait_item[k]];
        done[i] = free_at[s->stream[i]] = start + cost[i];
        if (done[i] > end) end = done[i];
        sum += cost[i];
    }
    free(done);
    free(free_at);
    return sum > 0 ? end / sum : 1;
}

void gpu_schedule_free(GpuSchedule *s) {
    free(s->stream);
    free(s->wait_start);
    free(s->wait_item);
    free(s->record);
    free(s->stream_items);
    memset(s, 0, sizeof *s);
}
