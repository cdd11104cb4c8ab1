#!/usr/bin/env python3
"""Writes the TensorFlow fixtures of tests/test_interop_tf.c into tests/interop/tf/, with
TensorFlow itself. Run once by hand (the outputs are committed; the tests never run this):

    /root/.cache/fn-interop/bin/python tests/interop/make_tf_fixtures.py

What this is: a small V2 checkpoint written by tf.compat.v1.train.Saver, with the reference's
plain variable names (a rank-4 [3,3,3,4] convolution kernel, batch-norm vectors, Adam's slots
"/Adam" and "/Adam_1" and scalar beta powers, the "/ExponentialMovingAverage" shadows, the int64
global_step and a string variable); a checkpoint with one partitioned variable; a frozen GraphDef
(a variable frozen by convert_variables_to_constants, so tensor_content, plus hand-made Const
nodes: a one-value fill, a full float_val list, a scalar, no values (zeros) and an int32); the
values TensorFlow reads back from each (*_expected.txt: "name<TAB>dtype<TAB>[shape]<TAB>hex
bits of each float32, or -"), so the C test compares bit for bit; and a fuzz seed of the
checkpoint in tests/fuzz/fuzz_tf_index.c's layout (4-byte little-endian .index length, the
.index, the .data).
What this is not: part of the build or the tests; every file it writes stays under 50 KB.
"""
import os
import struct
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf1 = tf.compat.v1
tf1.disable_v2_behavior()
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf")
PREFIX = os.path.join(OUT, "model-20180402-114759.ckpt")
DATA = ".data-00000-of-00001"


def dtype_name(dt):
    return {tf.float32: "float32", tf.int64: "int64", tf.string: "string", tf.int32: "int32"}[dt]


def expected_line(name, dtype, shape, value):
    shape_s = "[" + ",".join(str(d) for d in shape) + "]"
    if dtype != "float32":
        return "%s\t%s\t%s\t-\n" % (name, dtype, shape_s)
    words = np.ascontiguousarray(value, dtype="<f4").reshape(-1).view("<u4")
    return "%s\t%s\t%s\t%s\n" % (name, dtype, shape_s, " ".join("%08x" % w for w in words))


def write_checkpoint():
    rng = np.random.default_rng(20180402)
    with tf.Graph().as_default():
        with tf1.variable_scope("InceptionResnetV1/Conv2d_1a_3x3"):
            w = tf1.get_variable("weights", [3, 3, 3, 4], tf.float32)
            with tf1.variable_scope("BatchNorm"):
                beta = tf1.get_variable("beta", [4], tf.float32)
                tf1.get_variable("moving_mean", [4], tf.float32, trainable=False)
        with tf1.variable_scope("InceptionResnetV1/Bottleneck"):
            b = tf1.get_variable("weights", [8, 3], tf.float32)
        tf1.get_variable("InceptionResnetV1/empty", [0, 3], tf.float32, trainable=False)
        tf1.get_variable("labels", [2], tf.string, initializer=tf1.constant_initializer(["ab", "cde"]),
                         trainable=False)
        step = tf1.train.get_or_create_global_step()
        loss = tf.reduce_sum(w * w) + tf.reduce_sum(beta) + tf.reduce_sum(b * b)
        train = tf1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
        with tf.control_dependencies([train]):
            tf1.train.ExponentialMovingAverage(0.9999, step).apply(tf1.trainable_variables())
        saver = tf1.train.Saver(write_version=tf1.train.SaverDef.V2)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            for v in tf1.global_variables():  # random bits everywhere, so nothing matches by chance
                if v.dtype.base_dtype == tf.float32:
                    v.load(rng.standard_normal(v.shape.as_list()).astype(np.float32), sess)
            step.load(7, sess)
            path = saver.save(sess, PREFIX, global_step=7, write_meta_graph=False, write_state=False)
    reader = tf1.train.load_checkpoint(path)
    dtypes, shapes = reader.get_variable_to_dtype_map(), reader.get_variable_to_shape_map()
    with open(os.path.join(OUT, "checkpoint_expected.txt"), "w") as f:
        for name in sorted(dtypes):
            value = reader.get_tensor(name) if dtypes[name] == tf.float32 else None
            f.write(expected_line(name, dtype_name(dtypes[name]), shapes[name], value))
    index = open(path + ".index", "rb").read()
    data = open(path + DATA, "rb").read()
    with open(path + ".fuzz", "wb") as f:
        f.write(struct.pack("<I", len(index)) + index + data)


def write_partitioned():
    with tf.Graph().as_default():
        tf1.get_variable("part", [4, 2], tf.float32, partitioner=tf1.fixed_size_partitioner(2))
        saver = tf1.train.Saver(write_version=tf1.train.SaverDef.V2)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            saver.save(sess, os.path.join(OUT, "partitioned.ckpt"), write_meta_graph=False, write_state=False)


def const_node(name, dtype, shape, **values):
    node = tf1.NodeDef(name=name, op="Const")
    node.attr["dtype"].type = dtype.as_datatype_enum
    t = node.attr["value"].tensor
    t.dtype = dtype.as_datatype_enum
    for d in shape:
        t.tensor_shape.dim.add().size = d
    for field, vals in values.items():
        getattr(t, field).extend(vals)
    return node


def write_graph():
    rng = np.random.default_rng(114759)
    with tf.Graph().as_default() as g:
        x = tf1.placeholder(tf.float32, [None, 5, 5, 3], name="input")
        with tf1.variable_scope("InceptionResnetV1/Conv2d_1a_3x3"):
            w = tf1.get_variable("weights", [3, 3, 3, 4], tf.float32)
        tf.identity(tf.nn.conv2d(x, w, [1, 1, 1, 1], "VALID"), name="embeddings")
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            w.load(rng.standard_normal([3, 3, 3, 4]).astype(np.float32), sess)
            gd = tf1.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["embeddings"])
    gd.node.extend([
        const_node("InceptionResnetV1/Conv2d_1a_3x3/BatchNorm/beta", tf.float32, [4], float_val=[0.25]),
        const_node("InceptionResnetV1/Logits/biases", tf.float32, [3],
                   float_val=rng.standard_normal(3).astype(np.float32).tolist()),
        const_node("InceptionResnetV1/scale", tf.float32, [], float_val=[1.5]),
        const_node("InceptionResnetV1/zeros", tf.float32, [2, 2]),
        const_node("phase_train/shape", tf.int32, [2], int_val=[5, 3]),
    ])
    data = gd.SerializeToString()
    with open(os.path.join(OUT, "frozen.pb"), "wb") as f:
        f.write(data)
    # the expected values are what TensorFlow itself makes of each Const
    with tf.Graph().as_default() as g2:
        tf1.import_graph_def(tf1.GraphDef.FromString(data), name="")
        consts = [op for op in g2.get_operations() if op.type == "Const"]
        with tf1.Session() as sess:
            values = sess.run([op.outputs[0] for op in consts])
    with open(os.path.join(OUT, "graph_expected.txt"), "w") as f:
        for op, v in zip(consts, values):
            dt = op.outputs[0].dtype
            f.write(expected_line(op.name, dtype_name(dt), v.shape, v if dt == tf.float32 else None))


def main():
    os.makedirs(OUT, exist_ok=True)
    write_checkpoint()
    write_partitioned()
    write_graph()
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        print("%8d %s" % (size, name))
        if size > 50 * 1024:
            sys.exit("%s is over 50 KB" % name)


if __name__ == "__main__":
    main()
