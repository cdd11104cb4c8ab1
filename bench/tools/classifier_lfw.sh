#!/usr/bin/env bash
# The wiki's "Train a classifier on own images" on LFW: the people with at least 40 images
# (19 in LFW), 35 of each to train and the rest to test (--use_split_dataset), through
# fnrun classifier TRAIN and CLASSIFY; then scikit-learn's SVC(kernel='linear',
# probability=True) fitted on the same embeddings (--save_embeddings) and asked the same, and
# the two accuracies printed side by side (they must be equal).
# Usage: bench/tools/classifier_lfw.sh [MODEL] [BUILD] [FLAGS...]   (MODEL: a checkpoint, run
#        folder or artifact, default BUILD/inception_resnet_v1.fnc with its seeded weights;
#        FLAGS go to both fnrun classifier runs, e.g. --use_fixed_image_standardization)
# Needs ../shared/data/lfw and /usr/bin/python3 with scikit-learn (Debian python3-sklearn).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${2:-build}
model=${1:-$build/inception_resnet_v1.fnc}
shift $(($# < 2 ? $# : 2))
lfw=../shared/data/lfw/lfw-deepfunneled
[ -d "$lfw" ] || { echo "no $lfw"; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/people"
for d in "$lfw"/*/; do
    n=$(ls "$d" | wc -l)
    [ "$n" -ge 40 ] && ln -s "$(cd "$d" && pwd)" "$work/people/$(basename "$d")"
done
echo "people with >= 40 images: $(ls "$work/people" | wc -l); model $model; $(lscpu | sed -n 's/^Model name: *//p')"
flags=(--use_split_dataset --min_nrof_images_per_class 40 --nrof_train_images_per_class 35 --batch_size 100 "$@")
"$build/fnrun" classifier TRAIN "$work/people" "$model" "$work/c.svm" "${flags[@]}" --save_embeddings "$work/train" \
    | grep -v "^ *[0-9]*  "
"$build/fnrun" classifier CLASSIFY "$work/people" "$model" "$work/c.svm" "${flags[@]}" --save_embeddings "$work/test" \
    >"$work/classify.out"
grep -v "^ *[0-9]*  " "$work/classify.out"
/usr/bin/python3 - "$work" <<'PY'
import re, sys
import numpy as np
from sklearn.svm import SVC
w = sys.argv[1]
def load(name):
    x = np.load(w + '/' + name + '.npy').astype(np.float64)
    cls = [l.rstrip('\n').split('\t')[1] for l in open(w + '/' + name + '.tsv')][1:]
    return x, cls
xtr, ctr = load('train')
xte, cte = load('test')
names = sorted(set(ctr), key=ctr.index)
ytr = np.array([names.index(c) for c in ctr])
yte = np.array([names.index(c) for c in cte])
np.random.seed(666)
m = SVC(kernel='linear', probability=True).fit(xtr, ytr)
pred = m.predict_proba(xte).argmax(1)
fn = [re.match(r'^ *[0-9]+  (.*): [0-9.]+$', l).group(1) for l in open(w + '/classify.out')
      if re.match(r'^ *[0-9]+  ', l)]
fn_pred = np.array([names.index(n) for n in fn])
print('scikit-learn on fn\'s embeddings: Accuracy: %.3f; fn and scikit-learn predict alike on %d of %d'
      % ((pred == yte).mean(), (pred == fn_pred).sum(), len(yte)))
# the fit itself: fn's libsvm model (the classifier file's middle) against scikit-learn's, by
# their one-against-one decision values on the test embeddings
lines = open(w + '/c.svm').read().split('\n')
svm = lines[lines.index('libsvm') + 1:]
head = {l.split()[0]: l.split()[1:] for l in svm[:svm.index('SV')]}
k, rho, nr_sv = int(head['nr_class'][0]), np.array(head['rho'], float), np.array(head['nr_sv'], int)
label = np.array(head['label'], int)
rows = [l.split() for l in svm[svm.index('SV') + 1:] if l and not l.startswith('end')]
coef = np.array([[float(v) for v in r[:k - 1]] for r in rows])
sv = np.zeros((len(rows), xte.shape[1]))
for i, r in enumerate(rows):
    for t in r[k - 1:]:
        j, v = t.split(':')
        sv[i, int(j) - 1] = float(v)
start = np.concatenate([[0], np.cumsum(nr_sv)])
kern = xte @ sv.T
dec, p = [], 0
for i in range(k):
    for j in range(i + 1, k):
        si, sj = slice(start[i], start[i + 1]), slice(start[j], start[j + 1])
        dec.append(kern[:, si] @ coef[si, j - 1] + kern[:, sj] @ coef[sj, i] - rho[p])
        p += 1
dec = np.array(dec).T
m_ovo = SVC(kernel='linear', decision_function_shape='ovo').fit(xtr, ytr)
order = list(label)  # libsvm's class order: first seen in training, as scikit-learn's sorted labels here
sk = m_ovo.decision_function(xte)
print('the fit: max |decision value fn - scikit-learn| %.2e (scale %.2f); label order %s'
      % (abs(dec - sk).max(), abs(sk).max(), 'same' if order == sorted(order) else 'differs'))
PY
