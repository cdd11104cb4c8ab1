/* PyTorch state dicts read by interop/torch_pt.c: the fixtures of tests/interop/torch/ (written by
 * tests/interop/make_torch_fixtures.py with torch 2.2) read back bit-exact in the zip format,
 * the legacy format, a checkpoint dict holding "state_dict" and a protocol-4 pickle, and
 * facenet-pytorch's own P-Net file; and bad inputs (a pickle calling os.system, a global off the
 * allow-list, truncations, a zip entry claiming more bytes than the file, storages too small for
 * their tensors, random damage) each give a one-line error and no crash.
 * What this is not: a test of the name mapping onto fn's variables (interop/import.c's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interop/interop.h"
#include "tests/testlib.h"

#define DIR "tests/interop/torch/"

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
    *n = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    return buf;
}

/* path read back equals stem.txt (names, dtypes, shapes, in order) and stem.bin (float32 bits) */
static void check_expected(const char *path, const char *stem) {
    char p[256];
    snprintf(p, sizeof p, DIR "%s.txt", stem);
    char *txt = test_read_file(p);
    snprintf(p, sizeof p, DIR "%s.bin", stem);
    size_t nbin = 0;
    unsigned char *bin = slurp(p, &nbin);
    IxTensors ts;
    RtStatus st = {{0}};
    int rc = ix_torch_read(path, &ts, &st);
    if (!CHECK(txt && bin && rc == 0, "%s reads: %s", path, st.msg)) goto out;
    int i = 0, bad = 0;
    size_t at = 0;
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n"), i++) {
        char name[256], dtype[16], dims[128], shape[160];
        if (sscanf(line, "%255s %15s %127s", name, dtype, dims) != 3 || i >= ts.n) {
            bad++;
            break;
        }
        const IxTensor *t = &ts.t[i];
        ix_shape_str(t->dims, t->rank, shape, sizeof shape);
        char want[160];
        snprintf(want, sizeof want, "[%s]", strcmp(dims, "-") ? dims : "");
        int ok =
            strcmp(t->name, name) == 0 && strcmp(t->dtype, dtype) == 0 && strcmp(shape, want) == 0;
        if (ok && strcmp(dtype, "float32") == 0) {
            ok = t->data && at + (size_t)t->n * 4 <= nbin &&
                 memcmp(t->data, bin + at, (size_t)t->n * 4) == 0;
            at += (size_t)t->n * 4;
        } else if (ok) {
            ok = t->data == NULL;
        }
        if (!ok) printf("  %s: %s %s %s differs from %s\n", path, t->name, t->dtype, shape, line);
        bad += !ok;
    }
    CHECK(bad == 0 && i == ts.n && at == nbin,
          "%s: %d tensors, names, dtypes, shapes and float32 bits as torch's (%d bad)", path, ts.n,
          bad);
out:
    ix_tensors_free(&ts);
    free(txt);
    free(bin);
}

static void check_details(void) {
    IxTensors ts;
    RtStatus st = {{0}};
    if (!CHECK(ix_torch_read(DIR "tiny.pt", &ts, &st) == 0, "tiny.pt: %s", st.msg)) return;
    const IxTensor *nb = ix_tensors_find(&ts, "conv2d_1a.bn.num_batches_tracked");
    CHECK(nb && strcmp(nb->dtype, "int64") == 0 && nb->rank == 0 && nb->n == 1 && nb->data == NULL,
          "num_batches_tracked: int64 scalar, data NULL");
    const IxTensor *w = ix_tensors_find(&ts, "last_linear.weight"),
                   *v = ix_tensors_find(&ts, "proj_t");
    int same = w && v && v->rank == 2 && v->dims[0] == 16 && v->dims[1] == 6;
    for (int i = 0; same && i < 16;
         i++) /* proj_t = last_linear.weight[2:].t(): offset 32, strides (1, 16) */
        for (int j = 0; same && j < 6; j++)
            same = memcmp(&v->data[i * 6 + j], &w->data[(j + 2) * 16 + i], 4) == 0;
    CHECK(same,
          "proj_t, a transposed view into last_linear.weight's storage, gathered from its strides");
    const IxTensor *h = ix_tensors_find(&ts, "extra_f16"), *d = ix_tensors_find(&ts, "extra_f64");
    CHECK(h && d && !strcmp(h->dtype, "float16") && !strcmp(d->dtype, "float64") && !h->data &&
              !d->data,
          "float16 and float64 listed with data NULL");
    ix_tensors_free(&ts);
}

/* path fails, its message naming the file and holding want */
static void check_refused(const char *path, const char *want) {
    IxTensors ts;
    RtStatus st = {{0}};
    int rc = ix_torch_read(path, &ts, &st);
    CHECK(rc < 0 && ts.n == 0 && strstr(st.msg, path) && strstr(st.msg, want) &&
              !strchr(st.msg, '\n'),
          "%s refused with '%s': %s", path, want, st.msg);
}

static void check_truncations(const char *path) {
    size_t n = 0;
    unsigned char *buf = slurp(path, &n);
    if (!CHECK(buf && n > 100, "%s readable", path)) return free(buf);
    int errors = 0, tries = 0;
    for (size_t cut = 0; cut < n; cut += n / 97 + 1, tries++) {
        IxTensors ts;
        RtStatus st;
        errors += ix_torch_parse(buf, cut, "cut", &ts, &st) < 0 && ts.n == 0;
        ix_tensors_free(&ts);
    }
    CHECK(errors == tries, "%s: every one of %d truncations is an error (%d)", path, tries, errors);
    uint64_t rng = 3;
    int ok = 0;
    for (int k = 0; k < 300; k++) { /* random byte flips: a result or an error, never a crash */
        unsigned char save[4];
        size_t at[4];
        for (int j = 0; j < 4; j++)
            at[j] = test_rng_next(&rng) % n, save[j] = buf[at[j]],
            buf[at[j]] ^= (unsigned char)(1 + test_rng_next(&rng) % 255);
        IxTensors ts;
        RtStatus st;
        ok += ix_torch_parse(buf, n, "flipped", &ts, &st) == 0;
        ix_tensors_free(&ts);
        for (int j = 3; j >= 0; j--)
            buf[at[j]] = save[j];
    }
    printf("  %s: 300 damaged copies, %d still parse, the rest fail with a message\n", path, ok);
    free(buf);
}

/* The central directory's sizes of tiny/data/0 patched to 2 GB (compressed and not, or only the
 * uncompressed one): an error, not a 2 GB allocation. libzip itself refuses the first (the data
 * would run past the archive); the reader's own check names the entry in the second. */
static void check_zip_sizes(void) {
    size_t n = 0;
    unsigned char *buf = slurp(DIR "tiny.pt", &n);
    if (!CHECK(buf, "tiny.pt readable")) return;
    for (int which = 0; which < 2; which++) {
        unsigned char *c = malloc(n);
        memcpy(c, buf, n);
        int patched = 0;
        for (size_t i = 0; i + 46 < n; i++) {
            if (memcmp(c + i, "PK\x01\x02", 4) != 0) continue;
            size_t name_len = (size_t)(c[i + 28] | c[i + 29] << 8);
            if (i + 46 + name_len > n || name_len != 11 ||
                memcmp(c + i + 46, "tiny/data/0", 11) != 0)
                continue;
            memcpy(c + i + 24, "\xf0\xff\xff\x7f", 4);                 /* uncompressed size */
            if (which == 0) memcpy(c + i + 20, "\xf0\xff\xff\x7f", 4); /* compressed size */
            patched++;
        }
        IxTensors ts;
        RtStatus st = {{0}};
        int rc = ix_torch_parse(c, n, "patched.pt", &ts, &st);
        CHECK(patched == 1 && rc < 0 && ts.n == 0 && strstr(st.msg, "patched.pt") &&
                  (which == 0 ||
                   strstr(st.msg,
                          "zip entry tiny/data/0 claims 2147483632 bytes, more than the file's")),
              "a zip entry claiming 2 GB (%s size%s patched): %s", which ? "uncompressed" : "both",
              which ? "" : "s", st.msg);
        free(c);
    }
    free(buf);
}

int main(void) {
    check_expected(DIR "tiny.pt", "tiny");
    check_expected(DIR "tiny_legacy.pt", "tiny");
    check_expected(DIR "tiny_ckpt.pt", "tiny");
    check_expected(DIR "tiny_p4.pt", "tiny");
    check_expected(DIR "facenet_pnet.pt", "facenet_pnet");
    check_details();

    check_refused(DIR "evil_os_system.pt",
                  "pickle names the global os.system, which is not allowed");
    check_refused(DIR "evil_os_system_raw.pt",
                  "pickle names the global os.system, which is not allowed");
    check_refused(DIR "module_linear.pt",
                  "the global torch.nn.modules.linear.Linear, which is not allowed");
    check_refused(DIR "bad_extent.pt", "tensor w: size [2,4]");
    check_refused(DIR "bad_stride.pt",
                  "tensor w: size [2,3], stride [3,2] from offset 0 reach past");
    check_refused(DIR "bad_offset.pt", "tensor w: size [6], stride [1] from offset 1");
    check_refused(DIR "bad_short_entry.pt", "storage 0 holds 16 bytes");
    check_refused(DIR "absent.pt", "No such file");
    check_refused("tests/interop/make_torch_fixtures.py", "not a PyTorch file");
    check_truncations(DIR "tiny.pt");
    check_truncations(DIR "tiny_legacy.pt");
    check_zip_sizes();
    return test_summary("test_interop_torch");
}
