/* See streams.h. Memory is cut into elementary segments at every span's ends; each segment
 * remembers its last writer and, per stream, its last reader since then (an earlier one on the
 * same stream runs before it anyway). */
#include "runtime/gpu/streams.h"

#include <stdlib.h>
#include <string.h>

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

int gpu_schedule(GpuSchedule *s, int n_items, const int *span_start, const GpuSpan *spans, int n_streams) {
    memset(s, 0, sizeof *s);
    s->n_items = n_items;
    s->n_streams = n_streams;
    int n_spans = span_start[n_items], n_cut = 0, S = n_streams;
    uintptr_t *cut = malloc(((size_t)2 * n_spans + 1) * sizeof *cut);
    if (!cut) return -1;
    for (int k = 0; k < n_spans; k++)
        if (spans[k].hi > spans[k].lo) {
            cut[n_cut++] = spans[k].lo;
            cut[n_cut++] = spans[k].hi;
        }
    qsort(cut, (size_t)n_cut, sizeof *cut, cmp_ptr);
    int u = 0;
    for (int k = 0; k < n_cut; k++)
        if (!u || cut[k] != cut[u - 1]) cut[u++] = cut[k];
    n_cut = u;
    int n_seg = n_cut > 0 ? n_cut - 1 : 0;
    int *writer = malloc(((size_t)n_seg + 1) * sizeof *writer);
    int *reader = malloc(((size_t)n_seg * S + 1) * sizeof *reader); /* [seg][stream] */
    for (int k = 0; k < n_seg; k++) writer[k] = -1;
    for (int k = 0; k < n_seg * S; k++) reader[k] = -1;
    s->stream = malloc(((size_t)n_items + 1) * sizeof *s->stream);
    s->wait_start = malloc(((size_t)n_items + 1) * sizeof *s->wait_start);
    s->record = calloc((size_t)n_items + 1, 1);
    s->stream_items = calloc((size_t)S, sizeof *s->stream_items);
    int *dep = malloc((size_t)S * sizeof *dep);        /* per stream: the latest conflicting item on it */
    int *tail = malloc((size_t)S * sizeof *tail);      /* per stream: its last item */
    int *waited = malloc((size_t)S * S * sizeof *waited); /* [s][t]: s's next item runs after t's item this */
    int *known = malloc(((size_t)n_items * S + 1) * sizeof *known); /* [i][t]: done when item i is */
    int cap = 64, n_wait = 0;
    s->wait_item = malloc((size_t)cap * sizeof *s->wait_item);
    if (!cut || !writer || !reader || !s->stream || !s->wait_start || !s->record || !dep || !tail || !waited ||
        !known || !s->wait_item) {
        free(cut), free(writer), free(reader), free(dep), free(tail), free(waited), free(known);
        gpu_schedule_free(s);
        return -1;
    }
    for (int t = 0; t < S; t++) tail[t] = -1;
    for (int k = 0; k < S * S; k++) waited[k] = -1;
    for (int i = 0; i < n_items; i++) {
        for (int t = 0; t < S; t++) dep[t] = -1;
        for (int k = span_start[i]; k < span_start[i + 1]; k++) {
            if (spans[k].hi <= spans[k].lo) continue;
            for (int g = seg_of(cut, n_cut, spans[k].lo); g < n_seg && cut[g] < spans[k].hi; g++) {
                int w = writer[g];
                if (w >= 0 && w > dep[s->stream[w]]) dep[s->stream[w]] = w;
                if (!spans[k].writes) continue;
                for (int t = 0; t < S; t++)
                    if (reader[g * S + t] > dep[t]) dep[t] = reader[g * S + t];
            }
        }
        /* the stream: the one whose last item this conflicts with (the latest), else the one idle
           longest (an empty one first) */
        int st = -1;
        for (int t = 0; t < S; t++)
            if (tail[t] >= 0 && dep[t] == tail[t] && (st < 0 || tail[t] > tail[st])) st = t;
        if (st < 0)
            for (int t = 0; t < S; t++)
                if (st < 0 || tail[t] < tail[st]) st = t;
        s->stream[i] = st;
        s->wait_start[i] = n_wait;
        for (int t = 0; t < S; t++) {
            if (t == st || dep[t] < 0 || dep[t] <= waited[st * S + t]) continue;
            if (n_wait == cap) {
                cap *= 2;
                int *grown = realloc(s->wait_item, (size_t)cap * sizeof *grown);
                if (!grown) {
                    free(cut), free(writer), free(reader), free(dep), free(tail), free(waited), free(known);
                    gpu_schedule_free(s);
                    return -1;
                }
                s->wait_item = grown;
            }
            s->wait_item[n_wait++] = dep[t];
            s->record[dep[t]] = 1;
            for (int v = 0; v < S; v++) /* what was done when dep[t] was, is done now on st too */
                if (known[dep[t] * S + v] > waited[st * S + v]) waited[st * S + v] = known[dep[t] * S + v];
        }
        waited[st * S + st] = i;
        memcpy(known + (size_t)i * S, waited + (size_t)st * S, (size_t)S * sizeof *known);
        tail[st] = i;
        s->stream_items[st]++;
        for (int k = span_start[i]; k < span_start[i + 1]; k++) {
            if (spans[k].hi <= spans[k].lo) continue;
            for (int g = seg_of(cut, n_cut, spans[k].lo); g < n_seg && cut[g] < spans[k].hi; g++)
                if (spans[k].writes) {
                    writer[g] = i;
                    for (int t = 0; t < S; t++) reader[g * S + t] = -1;
                } else
                    reader[g * S + st] = i;
        }
    }
    s->wait_start[n_items] = n_wait;
    free(cut), free(writer), free(reader), free(dep), free(tail), free(waited), free(known);
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
    double *done = malloc(((size_t)s->n_items + 1) * sizeof *done), *free_at = calloc((size_t)s->n_streams, sizeof *free_at);
    double sum = 0, end = 0;
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
