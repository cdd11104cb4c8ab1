/* runtime/gpu/streams.c: the GPU step's streams, without a GPU. The property that makes a
 * schedule safe is checked on random steps: whenever two items conflict (one writes memory the
 * other reads or writes), the earlier one is done before the later one starts, through the
 * order of one stream or a chain of waits. The checker follows the waits itself (what each item
 * knows to be done) and shares nothing with the scheduler's bookkeeping. Then the point of it:
 * independent towers go to different streams, and a join waits for them all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/gpu/streams.h"
#include "tests/testlib.h"

static int conflict(const GpuSpan *a, int na, const GpuSpan *b, int nb) {
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if ((a[i].writes || b[j].writes) && a[i].lo < b[j].hi && b[j].lo < a[i].hi && a[i].lo < a[i].hi &&
                b[j].lo < b[j].hi)
                return 1;
    return 0;
}

/* the conflicting pairs on two streams with no chain of waits between them (a stream runs its
 * items in order, so pairs on one stream are ordered) */
static int unordered_pairs(const GpuSchedule *s, const int *start, const GpuSpan *sp) {
    int n = s->n_items, S = s->n_streams, bad = 0;
    int *known = malloc((size_t)n * S * sizeof *known); /* [i][t]: the latest item of t done before i ends */
    int *last = malloc((size_t)S * sizeof *last);
    for (int t = 0; t < S; t++) last[t] = -1;
    for (int i = 0; i < n; i++) {
        int *k = known + (size_t)i * S, st = s->stream[i];
        for (int t = 0; t < S; t++) k[t] = last[st] >= 0 ? known[(size_t)last[st] * S + t] : -1;
        for (int w = s->wait_start[i]; w < s->wait_start[i + 1]; w++) {
            int j = s->wait_item[w];
            CHECK(s->record[j], "item %d waits for item %d, which records its event", i, j);
            for (int t = 0; t < S; t++)
                if (known[(size_t)j * S + t] > k[t]) k[t] = known[(size_t)j * S + t];
        }
        for (int j = 0; j < i; j++)
            if (s->stream[j] != st && k[s->stream[j]] < j &&
                conflict(sp + start[j], start[j + 1] - start[j], sp + start[i], start[i + 1] - start[i]))
                bad++;
        k[st] = i;
        last[st] = i;
    }
    free(known);
    free(last);
    return bad;
}

static uint64_t rng = 12345;
static int rnd(int n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int)(rng % (uint64_t)n);
}

/* every other trial pins about a quarter of the items to the last stream (as the replicas' reductions) */
static void random_steps(void) {
    int worst = 0, used_many = 0, trials = 300, misplaced = 0, pinned_trials = 0;
    for (int trial = 0; trial < trials; trial++) {
        int n = 5 + rnd(120), S = 1 + rnd(5), n_sp = 0;
        int *start = malloc(((size_t)n + 1) * sizeof *start), *pin = malloc((size_t)n * sizeof *pin);
        int pinning = S > 1 && trial % 2;
        for (int i = 0; i < n; i++) pin[i] = pinning && rnd(4) == 0 ? S - 1 : -1;
        pinned_trials += pinning;
        GpuSpan *sp = malloc((size_t)n * 4 * sizeof *sp);
        for (int i = 0; i < n; i++) {
            start[i] = n_sp;
            int k = 1 + rnd(4);
            for (int j = 0; j < k; j++) { /* buffers of a small address space, so they overlap */
                uintptr_t lo = 4096 + (uintptr_t)rnd(64) * 16, len = (uintptr_t)(1 + rnd(8)) * 16;
                sp[n_sp++] = (GpuSpan){lo, lo + len, j == 0 || rnd(3) == 0};
            }
        }
        start[n] = n_sp;
        GpuSchedule s;
        if (!CHECK(gpu_schedule(&s, n, start, sp, S, pin) == 0, "schedule %d", trial)) break;
        int bad = unordered_pairs(&s, start, sp), any_pin = 0;
        for (int i = 0; i < n; i++) any_pin |= pin[i] >= 0;
        for (int i = 0; i < n; i++) /* pinned items on their stream, no other item there */
            misplaced += pin[i] >= 0 ? s.stream[i] != pin[i] : any_pin && s.stream[i] == S - 1;
        if (bad > worst) worst = bad;
        int used = 0;
        for (int t = 0; t < S; t++) used += s.stream_items[t] > 0;
        used_many += used > 1;
        gpu_schedule_free(&s);
        free(start);
        free(pin);
        free(sp);
    }
    printf("  %d random steps (5-124 items, 1-5 streams, %d with pinned items): %d conflicting pairs unordered at "
           "worst; %d used several streams; %d items off their pinned stream or on another's\n",
           trials, pinned_trials, worst, used_many, misplaced);
    CHECK(worst == 0, "every conflicting pair is ordered");
    CHECK(misplaced == 0, "pinned items keep their stream to themselves");
    CHECK(used_many > trials / 4, "random steps use several streams");
}

/* x -> four towers (each reads x, writes its own two buffers in turn) -> a join reading all four */
static void towers(void) {
    enum { X = 0, T = 1000, JOIN = 9000 };
    GpuSpan sp[64];
    int start[16], n = 0, k = 0;
#define SPAN(lo, w) sp[k++] = (GpuSpan){(uintptr_t)(lo) + 4096, (uintptr_t)(lo) + 4096 + 100, w}
    start[n++] = k, SPAN(X, 1); /* x */
    for (int t = 0; t < 4; t++) {
        start[n++] = k, SPAN(X, 0), SPAN(T + 200 * t, 1);
        start[n++] = k, SPAN(T + 200 * t, 0), SPAN(T + 200 * t + 100, 1);
    }
    start[n++] = k;
    for (int t = 0; t < 4; t++) SPAN(T + 200 * t + 100, 0);
    SPAN(JOIN, 1);
    start[n] = k;
#undef SPAN
    GpuSchedule s;
    if (!CHECK(gpu_schedule(&s, n, start, sp, 4, NULL) == 0, "towers")) return;
    int distinct = 0;
    for (int t = 0; t < 4; t++) distinct += s.stream_items[t] > 0;
    printf("  four towers on 4 streams: streams");
    for (int i = 0; i < n; i++) printf(" %d", s.stream[i]);
    printf("; the join waits for %d items\n", s.wait_start[n] - s.wait_start[n - 1]);
    CHECK(distinct == 4, "the four towers run on four streams");
    for (int t = 0; t < 4; t++)
        CHECK(s.stream[1 + 2 * t] == s.stream[2 + 2 * t], "tower %d stays on its stream", t);
    CHECK(s.wait_start[n] - s.wait_start[n - 1] == 3, "the join waits for the three towers on other streams");
    CHECK(unordered_pairs(&s, start, sp) == 0, "the towers' schedule is ordered");
    gpu_schedule_free(&s);
    GpuSchedule one;
    if (CHECK(gpu_schedule(&one, n, start, sp, 1, NULL) == 0, "one stream")) {
        CHECK(one.wait_start[n] == 0 && one.stream_items[0] == n, "one stream: everything on it, no waits");
        gpu_schedule_free(&one);
    }
}

/* the assignments' copies in launches of any block order: a copy that reads or writes what an
 * earlier one of the run writes starts a new run; readers of one source share one */
static void batch_runs(void) {
    /* copies x -> y of 100 bytes at addresses in units of 1000: (src, dst) */
    static const struct { int n, pairs[5][2], runs, start[6]; const char *what; } cs[] = {
        {3, {{1, 2}, {3, 4}, {5, 6}}, 1, {0, 3}, "independent copies: one launch"},
        {2, {{1, 2}, {2, 3}}, 2, {0, 1, 2}, "a copy of what an earlier one writes: after it"},
        {2, {{1, 2}, {3, 2}}, 2, {0, 1, 2}, "two copies to one place: in order"},
        {2, {{2, 3}, {1, 2}}, 2, {0, 1, 2}, "a copy over what an earlier one reads: after it"},
        {4, {{1, 2}, {1, 3}, {3, 4}, {5, 6}}, 2, {0, 2, 4}, "one source read twice, then a chain"},
    };
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        GpuSpan sp[10];
        int st[6], runs[7];
        for (int i = 0; i < cs[c].n; i++) {
            uintptr_t x = (uintptr_t)cs[c].pairs[i][0] * 1000, y = (uintptr_t)cs[c].pairs[i][1] * 1000;
            sp[2 * i] = (GpuSpan){x, x + 100, 0};
            sp[2 * i + 1] = (GpuSpan){y, y + 100, 1};
            st[i] = 2 * i;
        }
        st[cs[c].n] = 2 * cs[c].n;
        int n = gpu_batch_runs(cs[c].n, st, sp, runs), same = n == cs[c].runs;
        for (int r = 0; same && r <= n; r++) same = runs[r] == cs[c].start[r];
        CHECK(same, "%s (%d runs)", cs[c].what, n);
    }
}

int main(void) {
    random_steps();
    towers();
    batch_runs();
    return test_summary("test_gpu_streams");
}
