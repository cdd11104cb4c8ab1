"""fnrun import of checkpoints and frozen graphs written by TensorFlow itself.

Every variable fn's Inception-ResNet-v1 has (fn_raw vars on the artifact's train/ADAM graph),
with the reference's names and shapes, is created in a TensorFlow 1.x graph (tf.compat.v1);
TensorFlow's own AdamOptimizer and ExponentialMovingAverage add their slots, beta powers and
shadows, and global_step; every variable is given random values and saved by tf.train.Saver (V2
format). fnrun import reads it back: every variable and every moving average must be
bit-identical (with --use_moving_averages, the weights must be the shadows). Then the same
variables frozen into a GraphDef (convert_variables_to_constants) and imported the same way.
Usage: $(bench/interop/setup.sh) bench/interop/parity_tf.py [WORKDIR]. Exits non-zero on any
difference."""
import os, subprocess, sys, tempfile
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BUILD, build_tools, sh, read_outputs, cpu_name, verdict

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

tf1 = tf.compat.v1
E, K = 512, 10
SLOT = ("/Adam", "/Adam_1", "beta1_power", "beta2_power")


def fn_variables():
    out = subprocess.run([os.path.join(BUILD, "fn_raw"), "vars", os.path.join(BUILD, "inception_resnet_v1.fnc"),
                          "train/ADAM", str(E), str(K)], check=True, capture_output=True, text=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return [(n, kind, tuple(int(d) for d in dims.split(",") if d)) for n, kind, dims in rows]


def build_graph(variables):
    """fn's variables (not the optimiser's), then TensorFlow's Adam slots and moving averages"""
    tf1.disable_eager_execution()
    g = tf1.Graph()
    with g.as_default():
        step = tf1.train.get_or_create_global_step()
        made = [tf1.get_variable(n, shape=s, dtype=tf.float32, trainable=kind == "param",
                                 initializer=tf1.zeros_initializer())
                for n, kind, s in variables if not n.endswith(SLOT)]
        trainable = [v for v in made if v in tf1.trainable_variables()]
        loss = tf.add_n([tf.reduce_sum(v) for v in trainable])
        tf1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
        tf1.train.ExponentialMovingAverage(0.9999, step).apply(trainable)
        frozen_out = tf.identity(tf.add_n([tf.reduce_sum(v) for v in made]), name="all_weights")
    return g, made, frozen_out


def randomise(sess):
    rng = np.random.RandomState(0)
    for v in tf1.global_variables():
        shape = v.shape.as_list()
        if v.dtype.base_dtype == tf.int64:
            v.load(12345, sess)
        else:
            v.load(rng.standard_normal(shape).astype(np.float32), sess)


def compare(dump, expect, what):
    """bitwise equality of every fn variable (and @ema average) with the TF values"""
    got = read_outputs(dump)
    bad = [n for n, want in expect.items() if n not in got or
           got[n].shape != want.shape or not np.array_equal(got[n].view(np.uint32), want.view(np.uint32))]
    verdict(not bad, f"{what}: {len(expect) - len(bad)} of {len(expect)} tensors bit-identical"
            + (f" (first differing: {bad[0]})" if bad else ""))
    return not bad


def expected(reader, variables, use_averages):
    """what fn's checkpoint must hold: each variable's TF value; each average, the shadow of a
    trainable variable (its value otherwise); with use_averages the weights are the shadows"""
    out = {}
    for n, kind, _ in variables:
        v = reader.get_tensor(n).astype(np.float32)
        shadow = n + "/ExponentialMovingAverage"
        avg = reader.get_tensor(shadow).astype(np.float32) if reader.has_tensor(shadow) else v
        out[n] = avg if use_averages and kind == "param" else v
        if kind == "param" or n.endswith(("/moving_mean", "/moving_variance")):
            out[n + "@ema"] = avg
    return out


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="fn-parity-tf-")
    os.makedirs(work, exist_ok=True)
    build_tools()
    print(f"CPU: {cpu_name()}; tensorflow {tf.__version__}; work dir {work}")
    variables = fn_variables()
    g, made, frozen_out = build_graph(variables)
    with tf1.Session(graph=g) as sess:
        sess.run(tf1.global_variables_initializer())
        randomise(sess)
        prefix = tf1.train.Saver().save(sess, f"{work}/model-tf.ckpt", global_step=1, write_meta_graph=False)
        frozen = tf1.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["all_weights"])
        with open(f"{work}/frozen.pb", "wb") as f:
            f.write(frozen.SerializeToString())
    reader = tf.train.load_checkpoint(prefix)
    print(f"TensorFlow wrote {len(reader.get_variable_to_shape_map())} tensors to {prefix}; fn's model has "
          f"{len(variables)} variables with ADAM")
    fnrun, model = os.path.join(BUILD, "fnrun"), os.path.join(BUILD, "inception_resnet_v1.fnc")
    ok = True
    for avg in (False, True):
        out = f"{work}/imported{'-ema' if avg else ''}.ckpt"
        sh(fnrun, "import", prefix, "-o", out, "--model", model, *(["--use_moving_averages"] if avg else []))
        sh(os.path.join(BUILD, "fn_raw"), "dump", out, out + ".dump")
        ok &= compare(out + ".dump", expected(reader, variables, avg),
                      "checkpoint" + (" --use_moving_averages" if avg else ""))
    sh(fnrun, "import", f"{work}/frozen.pb", "-o", f"{work}/frozen.ckpt", "--model", model)
    sh(os.path.join(BUILD, "fn_raw"), "dump", f"{work}/frozen.ckpt", f"{work}/frozen.dump")
    want = {n: reader.get_tensor(n).astype(np.float32) for n, kind, _ in variables
            if not n.endswith(SLOT)}
    ok &= compare(f"{work}/frozen.dump", want, "frozen graph")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
