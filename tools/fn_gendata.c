/* fn_gendata: writes a small, deterministic, learnable class-per-folder PNG dataset.
 * Each class is a fixed random colour mosaic (a 4x4 grid of cells); each image of the class is
 * that mosaic shifted (with wrap-around) by up to a quarter cell, with a global brightness
 * change and strong per-pixel noise, so the classes are separable but not at a glance.
 * Used by `make demo`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/data/image.h"

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: fn_gendata OUT_DIR [classes=8] [images_per_class=20] [size=80] [seed=1]\n");
        return argc < 2 ? 2 : 0;
    }
    const char *out = argv[1];
    int classes = argc > 2 ? atoi(argv[2]) : 8, per = argc > 3 ? atoi(argv[3]) : 20;
    int size = argc > 4 ? atoi(argv[4]) : 80;
    uint64_t seed = argc > 5 ? (uint64_t)atoll(argv[5]) : 1;
    if (classes < 1 || per < 1 || size < 8) {
        fprintf(stderr, "fn_gendata: classes, images_per_class must be >= 1 and size >= 8\n");
        return 2;
    }
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fn_gendata: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    unsigned char *pix = malloc((size_t)size * (size_t)size * 3);
    RtStatus st;
    for (int c = 0; c < classes; c++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/class_%03d", out, c);
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "fn_gendata: cannot create %s: %s\n", dir, strerror(errno));
            return 1;
        }
        uint64_t ckey = rt_hash(seed, (uint64_t)c, 0xc1a55);
        for (int i = 0; i < per; i++) {
            uint64_t ikey = rt_hash(seed, (uint64_t)c, 1000 + (uint64_t)i);
            int r = size / 16; /* a quarter of a cell */
            int dx = (int)(rt_uniform(ikey, 0) * (2 * r + 1)) - r, dy = (int)(rt_uniform(ikey, 1) * (2 * r + 1)) - r;
            double bright = 80 * (rt_uniform(ikey, 2) - 0.5);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++) {
                    int cy = ((y + dy + size) % size) * 4 / size, cx = ((x + dx + size) % size) * 4 / size;
                    for (int ch = 0; ch < 3; ch++) {
                        double base = 255 * rt_uniform(ckey, (uint64_t)((cy * 4 + cx) * 3 + ch));
                        double noise = 160 * (rt_uniform(ikey, 16 + (uint64_t)((y * size + x) * 3 + ch)) - 0.5);
                        double v = base + bright + noise;
                        pix[((size_t)y * (size_t)size + (size_t)x) * 3 + (size_t)ch] =
                            (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
                    }
                }
            char path[8192];
            snprintf(path, sizeof path, "%s/class_%03d_%04d.png", dir, c, i + 1);
            RtImage img = {size, size, pix};
            if (rt_image_write_png(path, &img, &st) < 0) {
                fprintf(stderr, "fn_gendata: %s\n", st.msg);
                return 1;
            }
        }
    }
    free(pix);
    printf("fn_gendata: %d classes x %d images of %dx%d in %s\n", classes, per, size, size, out);
    return 0;
}
