/* Data-pipeline benchmark, one core: read + decode (libjpeg-turbo) + random 160 crop + random
 * flip + fixed standardisation, per image, as the training loader does it.
 *
 *   bench_pipeline LIST N [--dump FILE K]
 *
 * LIST has one image path per line; the first N are used. With --dump, the first K images are
 * also processed with a centre crop and no flip, and written as float32 to FILE, so that the
 * peer script can check our pixels against its own before anything is timed. Prints
 * "fn images/s per core: X" after a warm-up pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/data/image.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int process(const char *path, int control, uint64_t key, float *out) {
    RtImage img;
    RtStatus st;
    static unsigned char *scratch;
    static size_t cap;
    if (rt_image_load(path, control, 160, key, &img, &st) < 0) {
        fprintf(stderr, "bench_pipeline: %s\n", st.msg);
        return -1;
    }
    size_t need = (size_t)img.w * (size_t)img.h * 3;
    if (need > cap) scratch = realloc(scratch, cap = need);
    int rc = rt_augment(&img, control, 160, key, scratch, out, &st);
    if (rc < 0) fprintf(stderr, "bench_pipeline: %s: %s\n", path, st.msg);
    rt_image_free(&img);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_pipeline LIST N [--dump FILE K]\n");
        return 2;
    }
    int n = atoi(argv[2]), k = 0;
    const char *dump = NULL;
    if (argc >= 6 && !strcmp(argv[3], "--dump")) dump = argv[4], k = atoi(argv[5]);
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    char **paths = calloc((size_t)n, sizeof *paths), line[4096];
    int count = 0;
    while (count < n && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        paths[count++] = strdup(line);
    }
    fclose(f);
    float *out = malloc(160 * 160 * 3 * sizeof(float));
    if (dump) {
        FILE *d = fopen(dump, "wb");
        for (int i = 0; i < k && i < count; i++) {
            if (process(paths[i], RT_AUG_FIXED_STD, 0, out) < 0) return 1;
            fwrite(out, sizeof(float), 160 * 160 * 3, d);
        }
        fclose(d);
    }
    double checksum = 0;
    for (int pass = 0; pass < 2; pass++) { /* pass 0 warms the page cache */
        double t0 = now();
        for (int i = 0; i < count; i++) {
            if (process(paths[i], RT_AUG_CROP | RT_AUG_FLIP | RT_AUG_FIXED_STD, rt_hash(1, (uint64_t)i, 0), out) < 0)
                return 1;
            checksum += out[i % (160 * 160 * 3)];
        }
        double dt = now() - t0;
        if (pass == 1) printf("fn images/s per core: %.1f (%d images, %.3f s, checksum %.3f)\n", count / dt, count, dt, checksum);
    }
    return 0;
}
