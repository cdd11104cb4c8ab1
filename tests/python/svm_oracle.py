#!/usr/bin/env python3
"""scikit-learn's SVC(kernel='linear', probability=True) on the vectors test_classifier.c fitted
libsvm on, against fn's results: the one-against-one decision values (the fit itself, which is
deterministic) within 1e-6; the predicted classes (argmax of the probabilities, as
classifier.py) identical wherever scikit-learn's own random_state does not change them, and
one of scikit-learn's where it does; the probabilities within TOL (Platt scaling's
cross-validation folds are shuffled by each library's own random numbers, so they differ by
about as much as scikit-learn differs from itself under another random_state: the spread of
ten of its seeds is printed).
usage: svm_oracle.py DIR [TOL]   (TOL 0.05; DIR/train.txt, test.txt: label then values per line;
                            fn_prob.txt, fn_dec.txt: fn's results, a row per test vector)"""
import sys

import numpy as np
from sklearn.svm import SVC

d = sys.argv[1]
tol = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
tr, te = np.loadtxt(d + '/train.txt'), np.loadtxt(d + '/test.txt')
fn_p, fn_d = np.loadtxt(d + '/fn_prob.txt'), np.loadtxt(d + '/fn_dec.txt')
fit = lambda s: SVC(kernel='linear', probability=True, decision_function_shape='ovo',
                    random_state=s).fit(tr[:, 1:], tr[:, 0])
models = [fit(s) for s in range(10)]
dec = models[0].decision_function(te[:, 1:])
probs = [m.predict_proba(te[:, 1:]) for m in models]
picks = np.array([p.argmax(1) for p in probs])  # [seed, vector]
fn_pick = fn_p.argmax(1)
settled = (picks == picks[0]).all(0)  # vectors every seed of scikit-learn classifies alike
ddec = abs(dec - fn_d).max()
dp = max(abs(p - fn_p).max() for p in probs)
spread = max(abs(p - probs[0]).max() for p in probs[1:])
same = (fn_pick[settled] == picks[0][settled]).all()
among = all(fn_pick[i] in picks[:, i] for i in np.where(~settled)[0])
print('decision values: max |fn - sklearn| %.2e; probabilities: max |fn - sklearn| %.4f (sklearn '
      'against itself over 10 seeds: %.4f); predictions: %d of %d identical, the other %d (where '
      "sklearn's seeds disagree) one of sklearn's: %s"
      % (ddec, dp, spread, settled.sum(), len(settled), (~settled).sum(), among))
sys.exit(0 if ddec < 1e-6 and same and among and dp < tol else 1)
