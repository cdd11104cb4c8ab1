/* Learning-rate schedule files: the reference's four files (from ../shared/data when present)
 * and malformed ones, which must fail with the file and line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/train/schedule.h"
#include "tests/testlib.h"

static void expect_rates(const char *path, const int *epochs, const double *rates, int n) {
    RtSchedule s;
    RtStatus st;
    if (!CHECK(rt_schedule_load(path, &s, &st) == 0, "%s: %s", path, st.msg)) return;
    for (int i = 0; i < n; i++)
        CHECK(rt_schedule_rate(&s, epochs[i]) == rates[i], "%s epoch %d: rate %g, want %g", path, epochs[i],
              rt_schedule_rate(&s, epochs[i]), rates[i]);
    rt_schedule_free(&s);
}

static void expect_error(const char *name, const char *text, const char *want) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/fn_test_schedule_%d_%s", (int)getpid(), name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    RtSchedule s;
    RtStatus st;
    int rc = rt_schedule_load(path, &s, &st);
    CHECK(rc < 0 && strstr(st.msg, path) && strstr(st.msg, want), "%s: want '%s', got '%s'", name, want,
          rc < 0 ? st.msg : "(accepted)");
    if (rc == 0) rt_schedule_free(&s);
    unlink(path);
}

int main(void) {
    const char *data = test_shared_data();
    if (data) {
        char path[512];
        snprintf(path, sizeof path, "%s/schedules/learning_rate_schedule_classifier_casia.txt", data);
        int ce[] = {1, 59, 60, 79, 80, 90, 91, 500};
        double cr[] = {0.05, 0.05, 0.005, 0.005, 0.0005, 0.0005, -1, -1};
        expect_rates(path, ce, cr, 8);
        const char *others[] = {"learning_rate_schedule_classifier_msceleb.txt",
                                "learning_rate_schedule_classifier_vggface2.txt",
                                "learning_rate_retrain_tripletloss.txt"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/schedules/%s", data, others[i]);
            RtSchedule s;
            RtStatus st;
            CHECK(rt_schedule_load(path, &s, &st) == 0 && s.n >= 2 && rt_schedule_rate(&s, 1) > 0,
                  "%s loads: %s", others[i], st.msg);
            if (s.n) {
                printf("  %s: %d entries, epoch 1 rate %g, last entry epoch %d rate %g\n", others[i], s.n,
                       rt_schedule_rate(&s, 1), s.epoch[s.n - 1], s.rate[s.n - 1]);
                rt_schedule_free(&s);
            }
        }
    } else {
        printf("  ../shared/data absent: the reference's schedule files are not checked\n");
    }
    int e[] = {1, 2, 9, 10, 11, 30, 31, 1000};
    double r[] = {0.1, 0.1, 0.1, 0.01, 0.01, 0.01, -1, -1};
    char path[256];
    snprintf(path, sizeof path, "/tmp/fn_test_schedule_%d_ok", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs("# a comment\n\n0: 0.1   # inline comment\n  10 :0.01\n\t\n31: -\n", f);
    fclose(f);
    expect_rates(path, e, r, 8);
    unlink(path);
    expect_error("no_colon", "0: 0.1\n5 0.01\n", ":2: expected 'epoch: rate'");
    expect_error("bad_epoch", "0: 0.1\nx: 0.01\n", ":2: epoch 'x' is not a non-negative integer");
    expect_error("negative_epoch", "-3: 0.1\n", ":1: epoch '-3' is not a non-negative integer");
    /* found by tests/fuzz/fuzz_schedule.c: an epoch past INT_MAX was truncated */
    expect_error("huge_epoch", "0: 0.1\n4444444444444: 0.01\n", ":2: epoch '4444444444444' is not");
    expect_error("bad_rate", "0: 0.1\n4: fast\n", ":2: rate 'fast' is not a finite number");
    expect_error("empty_rate", "0:\n", ":1: rate '' is not a finite number");
    expect_error("nan_rate", "0: nan\n", ":1: rate 'nan' is not a finite number"); /* issue 24 item 9 */
    expect_error("inf_rate", "0: 0.1\n3: inf\n", ":2: rate 'inf' is not a finite number");
    char dir[256]; /* issue 24 item 15: a directory where the file is expected */
    snprintf(dir, sizeof dir, "/tmp/fn_test_schedule_%d_dir", (int)getpid());
    mkdir(dir, 0700);
    RtSchedule sd;
    RtStatus sdst;
    CHECK(rt_schedule_load(dir, &sd, &sdst) < 0 && strstr(sdst.msg, "is a directory"), "a directory: %s", sdst.msg);
    rmdir(dir);
    expect_error("decreasing", "0: 0.1\n10: 0.01\n5: 0.001\n", ":3: epoch 5 does not follow epoch 10");
    expect_error("empty", "# only comments\n\n", "no 'epoch: rate' entries");
    expect_error("late_start", "5: 0.1\n", "the first entry is for epoch 5");
    RtSchedule s;
    RtStatus st;
    CHECK(rt_schedule_load("/no/such/schedule.txt", &s, &st) < 0 && strstr(st.msg, "/no/such/schedule.txt"),
          "missing file: %s", st.msg);
    return test_summary("test_schedule");
}
