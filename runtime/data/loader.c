/* The batch loader (see loader.h): a ring of `depth` slots filled by worker threads. One mutex
 * guards the schedule; the decoding and augmentation run outside it. */
#include "runtime/data/loader.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "ir/alloc.h"

typedef struct {
    int64_t batch; /* which batch the slot holds, -1 if none */
    int remaining; /* samples still being filled */
    int *idx;      /* [batch] image indices of the whole batch */
    float *images; /* [take,size,size,3]: the slice */
    int32_t *labels; /* [take] */
} Slot;

struct RtLoader {
    RtLoaderOpts o;
    int first, take; /* the slice of each batch loaded: samples first..first+take */
    Slot *slots;
    pthread_t *workers;
    int n_workers;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, ready_cv;
    int64_t next_out;   /* the batch the consumer takes next */
    int64_t next_batch; /* the batch whose samples are being handed out */
    int next_sample;
    int stop, fatal;
    char fatal_msg[1024];
    /* sampler: successive seeded permutations, or list order */
    int *perm, perm_pos, pass;
    int64_t seq;
    /* bad files */
    unsigned char *bad;
    int n_bad;
};

static int sample_index(RtLoader *l) {
    int n = l->o.ds->n_images;
    if (l->o.order == RT_ORDER_SEQUENTIAL) return (int)(l->seq++ % n);
    if (l->perm_pos == n) {
        for (int i = 0; i < n; i++) l->perm[i] = i;
        rt_shuffle(l->perm, n, rt_hash(l->o.seed, (uint64_t)l->pass++, 0x5a3));
        l->perm_pos = 0;
    }
    return l->perm[l->perm_pos++];
}

/* Decodes and augments image idx into out; on a bad file, reports it once and tries the
 * deterministic substitutes idx+1, idx+2, ... Returns the index used, or -1 (fatal set). */
static int load_one(RtLoader *l, int idx, uint64_t key, float *out, unsigned char **scratch,
                    size_t *scratch_cap) {
    const RtDataset *ds = l->o.ds;
    for (int attempt = 0; attempt < ds->n_images; attempt++, idx = (idx + 1) % ds->n_images) {
        RtImage img;
        RtStatus st;
        int rc = rt_image_load(ds->paths[idx], l->o.control, l->o.size, key, &img, &st);
        if (rc == 0) {
            size_t need = (size_t)img.w * (size_t)img.h * 3;
            if (need > *scratch_cap) {
                free(*scratch);
                *scratch = fn_malloc(need);
                *scratch_cap = *scratch ? need : 0;
            }
            rc = *scratch ? rt_augment(&img, l->o.control, l->o.size, key, *scratch, out, &st)
                          : rt_fail(&st, "out of memory for %s", ds->paths[idx]);
            if (rc < 0 && strstr(st.msg, ds->paths[idx]) == NULL) {
                char m[sizeof st.msg];
                memcpy(m, st.msg, sizeof m);
                rt_fail(&st, "%s: %s", ds->paths[idx], m);
            }
            rt_image_free(&img);
        }
        if (rc == 0) return idx;
        pthread_mutex_lock(&l->mu);
        if (!l->bad[idx]) {
            l->bad[idx] = 1;
            l->n_bad++;
            if (l->n_bad > l->o.max_bad_images && !l->fatal) {
                l->fatal = 1;
                snprintf(l->fatal_msg, sizeof l->fatal_msg,
                         "%s (%d bad images, more than --max_bad_images %d)", st.msg, l->n_bad,
                         l->o.max_bad_images);
                pthread_cond_broadcast(&l->ready_cv);
            } else if (!l->fatal) {
                fprintf(l->o.log ? l->o.log : stderr, "warning: skipping %s (bad image %d of at most %d)\n",
                        st.msg, l->n_bad, l->o.max_bad_images);
            }
        }
        int fatal = l->fatal;
        pthread_mutex_unlock(&l->mu);
        if (fatal) return -1;
    }
    pthread_mutex_lock(&l->mu);
    l->fatal = 1;
    snprintf(l->fatal_msg, sizeof l->fatal_msg, "no readable image in the data set");
    pthread_cond_broadcast(&l->ready_cv);
    pthread_mutex_unlock(&l->mu);
    return -1;
}

static void *worker(void *arg) {
    RtLoader *l = arg;
    /* The lowest CPU priority (Linux: per thread): the decoding must not take a core from the
       step's OpenMP team, where one descheduled thread stalls the others at every barrier
       (with 4 workers on 2 cores a training step ran 10-20% slower). The team's idle moments,
       and the whole CPU whenever the step waits for a batch, are enough for decoding. */
    setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
    size_t per = (size_t)l->o.size * (size_t)l->o.size * 3, cap = 0;
    unsigned char *scratch = NULL;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && !l->fatal &&
               (l->next_batch >= l->next_out + l->o.depth ||
                (l->o.max_batches > 0 && l->next_batch >= l->o.first_batch + l->o.max_batches)))
            pthread_cond_wait(&l->work_cv, &l->mu);
        if (l->stop || l->fatal) break;
        int64_t k = l->next_batch;
        int j = l->next_sample;
        Slot *s = &l->slots[k % l->o.depth];
        if (j == 0) { /* a new batch: choose all its images, in order, under the lock */
            s->batch = k;
            s->remaining = l->take;
            for (int i = 0; i < l->o.batch; i++) s->idx[i] = sample_index(l);
        }
        if (++l->next_sample == l->take) {
            l->next_sample = 0;
            l->next_batch++;
        }
        int idx = s->idx[l->first + j];
        pthread_mutex_unlock(&l->mu);
        uint64_t key = rt_hash(l->o.seed, (uint64_t)k, 0xa0000000u + (uint64_t)(l->first + j));
        int used = load_one(l, idx, key, s->images + (size_t)j * per, &scratch, &cap);
        pthread_mutex_lock(&l->mu);
        if (used < 0) break;
        s->labels[j] = l->o.ds->labels[used];
        if (--s->remaining == 0) pthread_cond_broadcast(&l->ready_cv);
    }
    pthread_mutex_unlock(&l->mu);
    free(scratch);
    return NULL;
}

RtLoader *rt_loader_new(const RtLoaderOpts *o, RtStatus *st) {
    if (o->ds->n_images == 0 || o->batch < 1 || o->size < 1 || o->threads < 1 || o->depth < 1) {
        rt_fail(st, "loader: nothing to load (images %d, batch %d, threads %d, depth %d)",
                o->ds->n_images, o->batch, o->threads, o->depth);
        return NULL;
    }
    if (o->slice_first < 0 || o->slice_len < 0 || o->slice_first + o->slice_len > o->batch) {
        rt_fail(st, "loader: slice %d+%d of a batch of %d", o->slice_first, o->slice_len, o->batch);
        return NULL;
    }
    RtLoader *l = fn_calloc(1, sizeof *l);
    if (!l) {
        rt_fail(st, "loader: out of memory");
        return NULL;
    }
    l->o = *o;
    l->first = o->slice_len ? o->slice_first : 0;
    l->take = o->slice_len ? o->slice_len : o->batch;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);
    l->slots = fn_calloc((size_t)o->depth, sizeof *l->slots);
    if (!l->slots) l->o.depth = 0;
    size_t per = (size_t)o->size * (size_t)o->size * 3;
    for (int i = 0; i < l->o.depth; i++) {
        l->slots[i].batch = -1;
        l->slots[i].idx = fn_malloc((size_t)o->batch * sizeof(int));
        l->slots[i].images = fn_malloc((size_t)l->take * per * sizeof(float));
        l->slots[i].labels = fn_malloc((size_t)l->take * sizeof(int32_t));
        if (!l->slots[i].idx || !l->slots[i].images || !l->slots[i].labels) {
            rt_fail(st, "loader: out of memory for %d batches of %d images", o->depth, o->batch);
            l->o.depth = i + 1;
            rt_loader_free(l);
            return NULL;
        }
    }
    l->perm = fn_malloc((size_t)o->ds->n_images * sizeof(int));
    l->bad = fn_calloc((size_t)o->ds->n_images, 1);
    l->workers = fn_calloc((size_t)o->threads, sizeof(pthread_t));
    if (!l->slots || !l->perm || !l->bad || !l->workers) {
        rt_fail(st, "loader: out of memory for %d batches of %d images", o->depth, o->batch);
        rt_loader_free(l);
        return NULL;
    }
    l->perm_pos = o->ds->n_images;
    /* continue the sequence at batch first_batch: the sampler as if it had run that far */
    int64_t done = o->first_batch * o->batch;
    l->next_out = l->next_batch = o->first_batch;
    l->pass = (int)(done / o->ds->n_images);
    l->seq = done;
    if (o->order == RT_ORDER_SHUFFLE)
        for (int64_t i = 0; i < done % o->ds->n_images; i++) sample_index(l);
    for (int i = 0; i < o->threads; i++) {
        if (pthread_create(&l->workers[i], NULL, worker, l) != 0) {
            rt_fail(st, "loader: cannot start thread %d", i);
            rt_loader_free(l);
            return NULL;
        }
        l->n_workers++;
    }
    return l;
}

int rt_loader_next(RtLoader *l, float *images, int32_t *labels, double *wait_s, RtStatus *st) {
    double t0 = rt_now();
    pthread_mutex_lock(&l->mu);
    Slot *s = &l->slots[l->next_out % l->o.depth];
    while (!l->fatal && !(s->batch == l->next_out && s->remaining == 0))
        pthread_cond_wait(&l->ready_cv, &l->mu);
    if (l->fatal) {
        pthread_mutex_unlock(&l->mu);
        return rt_fail(st, "%s", l->fatal_msg);
    }
    pthread_mutex_unlock(&l->mu);
    if (wait_s) *wait_s += rt_now() - t0;
    size_t per = (size_t)l->o.size * (size_t)l->o.size * 3;
    memcpy(images, s->images, (size_t)l->take * per * sizeof(float));
    memcpy(labels, s->labels, (size_t)l->take * sizeof(int32_t));
    pthread_mutex_lock(&l->mu);
    s->batch = -1;
    l->next_out++;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

int rt_loader_fill(void *fill, RtStatus *st) {
    RtLoaderFill *f = fill;
    if (rt_loader_next(f->ld, f->images, f->labels, f->waited, st) < 0) return -1;
    if (f->lr) *f->lr = f->lr_value;
    return 0;
}

int rt_loader_is_bad(RtLoader *l, int image) {
    pthread_mutex_lock(&l->mu);
    int bad = image >= 0 && image < l->o.ds->n_images && l->bad[image];
    pthread_mutex_unlock(&l->mu);
    return bad;
}

int rt_loader_bad_images(RtLoader *l) {
    pthread_mutex_lock(&l->mu);
    int n = l->n_bad;
    pthread_mutex_unlock(&l->mu);
    return n;
}

void rt_loader_free(RtLoader *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->n_workers; i++) pthread_join(l->workers[i], NULL);
    for (int i = 0; i < l->o.depth; i++) {
        free(l->slots[i].idx);
        free(l->slots[i].images);
        free(l->slots[i].labels);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->ready_cv);
    free(l->slots);
    free(l->workers);
    free(l->perm);
    free(l->bad);
    free(l);
}
