/* libFuzzer target for the image-loading entry: any bytes into rt_image_decode must give an
 * image or an error, never a crash, hang, leak or undefined behaviour. A decoded image is
 * also pushed through the augmentation with random crop + rotation to exercise the sizes. */
#include <stdint.h>
#include <stdlib.h>

#include "runtime/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    RtImage img;
    char err[256];
    if (rt_image_decode(data, size, &img, err, sizeof err) == 0) {
        if (img.w <= 0 || img.h <= 0 || !img.pix) __builtin_trap();
        if ((size_t)img.w * (size_t)img.h <= 1 << 20) {
            unsigned char *scratch = malloc((size_t)img.w * (size_t)img.h * 3);
            float out[24 * 24 * 3];
            RtStatus st;
            int control = RT_AUG_ROTATE | RT_AUG_FLIP | (img.w >= 24 && img.h >= 24 ? RT_AUG_CROP : 0);
            rt_augment(&img, control, 24, size, scratch, out, &st);
            free(scratch);
        }
        rt_image_free(&img);
    }
    return 0;
}
