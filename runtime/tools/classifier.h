/* `fnrun classifier`: classifier.py's SVM on embeddings. A C-SVC with a linear kernel, C = 1 and
 * probability estimates (Platt scaling), fitted by libsvm as scikit-learn's
 * SVC(kernel='linear', probability=True) fits it (its libsvm), so predictions are the
 * reference's; the class predicted is the most probable, as classifier.py takes it.
 *
 * The classifier file: a first line "fn-classifier 1", the embedding size, the class names
 * (one a line), libsvm's own model text, and a last line "end CRC" (CRC-32 of all before it):
 * a truncated or altered file is refused, as is one for another embedding size.
 * What this is not: the embeddings (embed_files.h) or the dataset split (the CLI's). */
#ifndef FN_RT_CLASSIFIER_H
#define FN_RT_CLASSIFIER_H

#include "runtime/core/rt.h"

typedef struct RtClassifier RtClassifier;

/* x [n, d], labels [n] in [0, n_classes); names [n_classes] (copied). seed: libsvm's
 * cross-validation shuffles for the probabilities. NULL with st. */
RtClassifier *rt_classifier_train(const float *x, int n, int d, const int *labels, int n_classes,
                                  char *const *names, unsigned seed, RtStatus *st);
/* probs [n, n_classes], in the order of the classifier's names */
int rt_classifier_predict(const RtClassifier *c, const float *x, int n, double *probs, RtStatus *st);
/* dec [n, k(k-1)/2]: libsvm's one-against-one decision values, pairs (i, j), i < j, in the order
 * the classes appeared in training (scikit-learn's decision_function_shape='ovo') */
int rt_classifier_decision(const RtClassifier *c, const float *x, int n, double *dec, RtStatus *st);
int rt_classifier_save(const RtClassifier *c, const char *path, RtStatus *st);
/* want_dim > 0: refuse a classifier for another embedding size */
RtClassifier *rt_classifier_load(const char *path, int want_dim, RtStatus *st);
int rt_classifier_classes(const RtClassifier *c, const char *const **names);
int rt_classifier_dim(const RtClassifier *c);
void rt_classifier_free(RtClassifier *c);

#endif
