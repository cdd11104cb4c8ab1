/* The allocation-failure walk shared by tests/test_alloc_walk*.c (see tests/alloc_walk.h): the
 * loop over the failing allocation, its checks and its summary line. What this is not: a case of
 * its own; the tests supply the runs. */
#include "tests/alloc_walk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"
#include "tests/testlib.h"

static void note_site(AwSites *s, const void *site) {
    if (!site) return;
    for (int i = 0; i < s->n; i++)
        if (s->at[i] == site) return;
    if (s->n < (int)(sizeof s->at / sizeof s->at[0])) s->at[s->n++] = site;
}

static int same_result(const AwResult *a, const AwResult *b) {
    return a->value == b->value && (a->text && b->text ? !strcmp(a->text, b->text) : a->text == b->text);
}

AwStats aw_walk(const AwCase *c, AwResult *want_out) {
    AwStats out = {0};
    FnStatus st;
    AwResult want = {NAN, NULL};
    fn_alloc_fail_at(0);
    st.msg[0] = 0;
    int rc = c->run(c->ctx, &want, &st);
    if (!CHECK(rc == 0 && isfinite(want.value), "%s: a run without failures: %s", c->name,
               rc == 0 ? "no finite result" : st.msg)) {
        free(want.text);
        if (want_out) *want_out = (AwResult){NAN, NULL};
        return out;
    }
    int64_t total = fn_alloc_count();
    int ok = 1;
    AwSites sites = {.n = 0};
    for (int64_t k = 1;; k += c->stride > 1 && k >= c->head && !(c->tail > 0 && k >= total - c->tail) ? c->stride : 1) {
        AwResult got = {NAN, NULL};
        fn_alloc_fail_at(k);
        st.msg[0] = 0;
        rc = c->run(c->ctx, &got, &st);
        int64_t made = fn_alloc_count();
        const void *site = fn_alloc_failed_site();
        fn_alloc_fail_at(0);
        note_site(&sites, site);
        if (c->all) note_site(c->all, site);
        if (k > made) { /* no allocation failed: the run must have gone through, to the same result */
            ok = CHECK(rc == 0 && same_result(&got, &want),
                       "%s: past the last allocation (%lld), the run succeeds as a run without failures does "
                       "(%.17g, got %.17g%s%s)",
                       c->name, (long long)made, want.value, got.value, rc == 0 ? "" : ": ", rc == 0 ? "" : st.msg);
            free(got.text);
            break;
        }
        free(got.text);
        if (rc == 0 || !st.msg[0] || (c->says && !strstr(st.msg, c->says))) {
            if (out.bad++ < 5)
                CHECK(0, "%s: allocation %lld of %lld failed, yet the run %s%s", c->name, (long long)k, (long long)made,
                      rc == 0 ? "reported success" : !st.msg[0] ? "gave no message" : "said: ", rc == 0 ? "" : st.msg);
        } else {
            out.clean++;
        }
    }
    out.total = total;
    out.failed = out.clean + out.bad;
    out.sites = sites.n;
    printf("  %-*s %5lld allocations in a run, %5d made to fail in turn (from %3d call sites): %d clean errors, %d not\n",
           c->width, c->name, (long long)total, out.failed, out.sites, out.clean, out.bad);
    CHECK(ok && out.bad == 0 && out.clean > 0, "%s: every allocation's failure is a clean error", c->name);
    if (want_out) *want_out = want;
    else free(want.text);
    return out;
}
