/* `fnrun embed`: the embeddings of a list of images (inputs.h) through a model's eval graph,
 * computed as fnrun validate computes them (rt_embed: the same loader, standardisation, flipped
 * pass and batches, so the rows are bit for bit the same at the same batch size), and saved as
 * OUT.npy (float32 [n, d]) and OUT.tsv (each row's path and class). An image that cannot be
 * read is reported and left out, with its line: rows never shift. With --align the faces are
 * embedded (align_inputs.h). What this is not: LFW evaluation (validate.h). */
#ifndef FN_RT_EMBED_FILES_H
#define FN_RT_EMBED_FILES_H

#include <signal.h>

#include "runtime/core/exec.h"
#include "runtime/tools/align_inputs.h"
#include "runtime/tools/inputs.h"

typedef struct {
    const char *model; /* artifact, checkpoint or run directory */
    int image_size, embedding_size, use_moving_averages;
    uint64_t seed;     /* an artifact alone: its seeded weights */
    int batch_size, threads;
    int use_fixed_image_standardization, use_flipped_images; /* flipped: rows [plain | flipped] */
    const RtBackend *backend;
    FILE *progress, *log;        /* a progress bar; warnings (NULL: stderr) */
    volatile sig_atomic_t *stop; /* set to stop between batches; may be NULL */
} RtEmbedFilesOpts;

typedef struct {
    float *rows; /* [n, dim] */
    int n, dim;
    int *source; /* [n]: the input each row is of */
    int n_unreadable, n_no_face;
} RtEmbeddings;

void rt_embed_files_defaults(RtEmbedFilesOpts *o);
int rt_embed_files(const RtEmbedFilesOpts *o, const RtInputs *in, RtEmbeddings *e, RtStatus *st);
/* rt_embed_files, or with al (--align) that of the inputs' faces: rt_align_inputs into
 * al->work_dir (its crops removed after), the rows keeping their inputs in source. */
int rt_embed_inputs(const RtEmbedFilesOpts *o, const RtAlignInputsOpts *al, const RtInputs *in, RtEmbeddings *e,
                    RtStatus *st);
/* OUT.npy and OUT.tsv (path, class; a header line "path\tclass"), each whole or not at all. */
int rt_embeddings_save(const char *out, const RtInputs *in, const RtEmbeddings *e, RtStatus *st);
void rt_embeddings_free(RtEmbeddings *e);

#endif
