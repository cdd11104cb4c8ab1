/* Dataset scanning and the validation split: sorted classes and files, the SPLIT_IMAGES
 * arithmetic on example class sizes, dropping classes below min_nrof, determinism. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/data/data.h"
#include "tests/testlib.h"

static void test_split_sizes(void) {
    struct { int n; double r; int train, val; } cs[] = {
        {362, 0.01, 358, 4}, {50, 0.01, 49, 1}, {10, 0.2, 8, 2}, {1, 0.5, 0, 1}, {7, 0.3, 4, 3}, {3, 0.05, 2, 1}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        int t, v;
        rt_split_sizes(cs[i].n, cs[i].r, &t, &v);
        CHECK(t == cs[i].train && v == cs[i].val, "n=%d ratio %g: %d/%d, want %d/%d", cs[i].n, cs[i].r, t, v,
              cs[i].train, cs[i].val);
    }
}

static void touch(const char *path) {
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
}

static void test_scan_and_split(void) {
    char dir[] = "/tmp/fn_test_data_XXXXXX";
    if (!mkdtemp(dir)) return;
    const char *classes[] = {"b_two", "a_ten", "c_one"};
    int counts[] = {2, 10, 1};
    char path[512];
    for (int c = 0; c < 3; c++) {
        snprintf(path, sizeof path, "%s/%s", dir, classes[c]);
        mkdir(path, 0777);
        for (int i = counts[c] - 1; i >= 0; i--) {
            snprintf(path, sizeof path, "%s/%s/img_%02d.png", dir, classes[c], i);
            touch(path);
        }
    }
    snprintf(path, sizeof path, "%s/stray_file.txt", dir);
    touch(path);
    RtDataset ds, tr, va, tr2, va2;
    RtStatus st;
    CHECK(rt_dataset_scan(dir, &ds, &st) == 0, "scan: %s", st.msg);
    CHECK(ds.n_classes == 3 && ds.n_images == 13, "3 classes (stray file ignored), 13 images: %d %d", ds.n_classes,
          ds.n_images);
    CHECK(!strcmp(ds.classes[0].name, "a_ten") && !strcmp(ds.classes[2].name, "c_one"), "classes sorted");
    CHECK(strstr(ds.paths[0], "a_ten/img_00.png") && strstr(ds.paths[9], "a_ten/img_09.png"), "files sorted");
    CHECK(ds.labels[10] == 1 && ds.labels[12] == 2, "labels are class positions");

    rt_dataset_split(&ds, 0.2, 0, 5, &tr, &va);
    CHECK(tr.n_classes == 3 && va.n_classes == 3, "ratio 0.2, min 0: all classes kept");
    CHECK(tr.classes[0].count == 8 && va.classes[0].count == 2, "a_ten: 8/2");
    CHECK(tr.classes[1].count == 1 && va.classes[1].count == 1, "b_two: 1/1");
    CHECK(tr.classes[2].count == 0 && va.classes[2].count == 1, "c_one: 0/1 (kept, empty training class)");
    int disjoint = 1;
    for (int i = 0; i < tr.n_images; i++)
        for (int j = 0; j < va.n_images; j++) disjoint &= strcmp(tr.paths[i], va.paths[j]) != 0;
    CHECK(disjoint, "training and validation images are disjoint");
    rt_dataset_split(&ds, 0.2, 0, 5, &tr2, &va2);
    int same = tr2.n_images == tr.n_images;
    for (int i = 0; same && i < tr.n_images; i++) same = !strcmp(tr.paths[i], tr2.paths[i]);
    CHECK(same, "one seed, one split");
    rt_dataset_free(&tr2);
    rt_dataset_free(&va2);
    rt_dataset_free(&tr);
    rt_dataset_free(&va);

    rt_dataset_split(&ds, 0.2, 2, 5, &tr, &va);
    CHECK(tr.n_classes == 1 && va.n_classes == 1 && !strcmp(tr.classes[0].name, "a_ten"),
          "min 2: classes with fewer than 2 training images are dropped from both sets");
    CHECK(tr.labels[0] == 0 && va.labels[0] == 0, "labels renumbered to kept positions");
    rt_dataset_free(&tr);
    rt_dataset_free(&va);
    rt_dataset_split(&ds, 0, 0, 5, &tr, &va);
    CHECK(tr.n_images == 13 && va.n_images == 0, "ratio 0: no validation set");
    rt_dataset_free(&tr);
    rt_dataset_free(&va);
    rt_dataset_free(&ds);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
}

static void test_union(void) {
    char a[] = "/tmp/fn_test_union_a_XXXXXX", b[] = "/tmp/fn_test_union_b_XXXXXX";
    if (!mkdtemp(a) || !mkdtemp(b)) return;
    const char *spec[][3] = {{a, "bob", "x1.png"}, {a, "carl", "x2.png"}, {b, "bob", "a0.png"},
                             {b, "bob", "z9.png"}, {b, "anna", "y.png"}};
    char path[600];
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", spec[i][0], spec[i][1]);
        mkdir(path, 0777);
        snprintf(path, sizeof path, "%s/%s/%s", spec[i][0], spec[i][1], spec[i][2]);
        touch(path);
    }
    char roots[200];
    snprintf(roots, sizeof roots, "%s:%s", a, b);
    RtDataset ds;
    RtStatus st;
    CHECK(rt_dataset_scan(roots, &ds, &st) == 0, "union scan: %s", st.msg);
    CHECK(ds.n_classes == 3 && !strcmp(ds.classes[0].name, "anna") && !strcmp(ds.classes[1].name, "bob") &&
              !strcmp(ds.classes[2].name, "carl"),
          "union: one sorted list of classes, same names merged");
    CHECK(ds.classes[1].count == 3 && strstr(ds.paths[1], "x1.png") && strstr(ds.paths[2], "a0.png") &&
              strstr(ds.paths[3], "z9.png"),
          "merged class: root order, sorted files within each root");
    CHECK(ds.labels[0] == 0 && ds.labels[3] == 1 && ds.labels[4] == 2, "labels follow the merged classes");
    rt_dataset_free(&ds);
    snprintf(roots, sizeof roots, "%s:/no/such/root", a);
    CHECK(rt_dataset_scan(roots, &ds, &st) < 0 && strstr(st.msg, "/no/such/root"), "a missing root is named: %s",
          st.msg);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", a, b);
    if (system(cmd) != 0) printf("could not clean up\n");
}

int main(void) {
    test_split_sizes();
    test_scan_and_split();
    test_union();
    return test_summary("test_data");
}
