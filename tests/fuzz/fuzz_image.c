// fuzz-sources: runtime/data/image.c runtime/data/augment.c runtime/core/status.c ir/status.c ir/alloc.c
// fuzz-libs: -ljpeg -lpng -lz -lm
/* libFuzzer target for the image-loading entry: any bytes into rt_image_decode must give an
 * image or an error, never a crash, hang, leak or undefined behaviour. A decoded image is
 * also pushed through the augmentation with random crop + rotation to exercise the sizes, and
 * a window of it (chosen from the input's size) through the crop-window decoder, whose pixels
 * must equal the full decode's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    RtImage img;
    RtStatus st;
    if (rt_image_decode(data, size, &img, &st) == 0) {
        if (img.w <= 0 || img.h <= 0 || !img.pix) __builtin_trap();
        if ((size_t)img.w * (size_t)img.h <= 1 << 20) {
            unsigned char *scratch = malloc((size_t)img.w * (size_t)img.h * 3);
            float out[24 * 24 * 3];
            int control = RT_AUG_ROTATE | RT_AUG_FLIP | (img.w >= 24 && img.h >= 24 ? RT_AUG_CROP : 0);
            rt_augment(&img, control, 24, size, scratch, out, &st);
            free(scratch);
            int x0 = (int)(size % (size_t)img.w), y0 = (int)((size / 7) % (size_t)img.h);
            int ww = img.w - x0 < 17 ? img.w - x0 : 17, wh = img.h - y0 < 13 ? img.h - y0 : 13;
            RtImage win;
            if (rt_image_decode_window(data, size, x0, y0, ww, wh, &win, &st) == 0) {
                for (int y = 0; y < wh; y++)
                    if (memcmp(win.pix + (size_t)y * ww * 3, img.pix + ((size_t)(y0 + y) * img.w + x0) * 3,
                               (size_t)ww * 3) != 0)
                        __builtin_trap(); /* a window must have the full decode's pixels */
                rt_image_free(&win);
            }
        }
        rt_image_free(&img);
    }
    return 0;
}
