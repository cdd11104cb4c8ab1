"""fn against facenet-pytorch 2.6's InceptionResnetV1 on the same weights.

A randomly initialised InceptionResnetV1 (512-d, 10 classes; batch-norm statistics and offsets
drawn too, since the default init's are 0 and 1; the scale stays 1 as in the reference's
scale=False) goes through torch.save -> fnrun import -> fn_raw, and both sides embed the same
100 LFW images at 160x160 (fixed standardisation):
  eval mode:     max |diff| of the L2-normalised embeddings (goal <= 1e-5) and of the logits;
  training mode: batch statistics, dropout off, the mean cross-entropy of random labels: the
                 logits, the loss, and the gradient w.r.t. every weight (PyTorch autograd
                 against fn's autodiff; the gradients go through fnrun import too, so the name
                 table and layouts are the importer's), each weight's relative error
                 (max |diff| / max |g|) against PyTorch in float64: fn in float64 (the graph and
                 its autodiff exactly), fn in float32 beside PyTorch float32's own rounding.
Usage: $(bench/interop/setup.sh) bench/interop/parity_torch.py [WORKDIR]
Exits non-zero if the embedding goal is missed."""
import copy, os, sys, tempfile
import numpy as np
import torch
import torch.nn.functional as F
from facenet_pytorch import InceptionResnetV1

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BUILD, build_tools, sh, lfw_images, read_outputs, max_abs, rel_err, cpu_name, verdict

K, N, SIZE = 10, 100, 160


def make_model():
    torch.manual_seed(0)
    model = InceptionResnetV1(classify=True, num_classes=K)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
        model.logits.bias.uniform_(-0.1, 0.1)
    return model


def fn_import(pt, ckpt):
    sh(os.path.join(BUILD, "fnrun"), "import", pt, "-o", ckpt, "--model", os.path.join(BUILD, "inception_resnet_v1.fnc"))


def eval_parity(model, x, work):
    sh(os.path.join(BUILD, "fn_raw"), "run", f"{work}/fp.ckpt", f"{work}/images.f32", N, SIZE, f"{work}/eval")
    fn = read_outputs(f"{work}/eval")
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    model.eval()
    with torch.no_grad():
        model.classify = False
        emb = model(xt).numpy()
        model.classify = True
        logits = model(xt).numpy()
    d_emb, d_log = max_abs(fn["embeddings"], emb), max_abs(fn["logits"], logits)
    print(f"eval: embeddings max|diff| {d_emb:.3g} (|e| max {np.abs(emb).max():.3g}); "
          f"logits max|diff| {d_log:.3g} (rel {rel_err(fn['logits'], logits):.3g})")
    return d_emb


def grad_state_dict(model):
    """the state dict with every parameter's gradient in its place (fnrun import maps it); a
    batch norm's scale gradient is set aside (fn has no scale) and its statistics are 0 and 1"""
    params = dict(model.named_parameters())
    out = {}
    for k, v in model.state_dict().items():
        if k in params and not (k.endswith(".weight") and params[k].dim() == 1):
            out[k] = params[k].grad.detach().clone()
        elif k.endswith(".weight"):
            out[k] = torch.ones_like(v)  # bn scale
        elif k.endswith("running_var"):
            out[k] = torch.ones_like(v)
        elif k.endswith("running_mean"):
            out[k] = torch.zeros_like(v)
        else:
            out[k] = v
    return out


def torch_grads(model, x, labels, work, tag, dtype):
    """PyTorch's training-mode loss and gradients in dtype, through fnrun import into fn's names
    and layouts: {fn name: array}"""
    m = copy.deepcopy(model).to(dtype)
    m.train()
    m.classify = True
    m.dropout.p = 0.0
    logits = m(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().to(dtype))
    loss = F.cross_entropy(logits, torch.from_numpy(labels).long())
    loss.backward()
    grads = {k: v.float() for k, v in grad_state_dict(m).items()}
    torch.save(grads, f"{work}/grads-{tag}.pt")
    fn_import(f"{work}/grads-{tag}.pt", f"{work}/grads-{tag}.ckpt")
    sh(os.path.join(BUILD, "fn_raw"), "dump", f"{work}/grads-{tag}.ckpt", f"{work}/grads-{tag}")
    g = {n: v for n, v in read_outputs(f"{work}/grads-{tag}").items() if "@" not in n and "moving_" not in n}
    return logits.detach().double().numpy(), loss.item(), g


def grad_errors(got, ref, live):
    """per weight whose gradient is not zero: max |got - ref| / max |ref|, sorted"""
    return sorted((rel_err(got[n], ref[n]), n) for n in live if n in got)


def train_parity(model, x, work):
    labels = np.random.RandomState(1).randint(0, K, N).astype(np.int32)
    labels.tofile(f"{work}/labels.i32")
    fn = {}
    for tag, extra in (("f32", []), ("f64", ["--f64"])):
        sh(os.path.join(BUILD, "fn_raw"), "run", f"{work}/fp.ckpt", f"{work}/images.f32", N, SIZE, f"{work}/train-{tag}",
           "--train", f"{work}/labels.i32", *extra)
        fn[tag] = read_outputs(f"{work}/train-{tag}")
    logits32, loss32, g32 = torch_grads(model, x, labels, work, "f32", torch.float32)
    logits64, loss64, g64 = torch_grads(model, x, labels, work, "f64", torch.float64)
    print(f"train: logits max|diff| against float64 PyTorch: fn f32 {max_abs(fn['f32']['logits'], logits64):.3g}, "
          f"fn f64 {max_abs(fn['f64']['logits'], logits64):.3g}, torch f32 {max_abs(logits32, logits64):.3g}; "
          f"cross-entropy fn f32 {float(fn['f32']['xent']):.7f} fn f64 {float(fn['f64']['xent']):.10f} "
          f"torch f32 {loss32:.7f} f64 {loss64:.10f}")
    # a gradient that is zero in exact arithmetic (a bias whose shift a batch norm takes out again)
    # has no relative error: left out, and named
    g64 = {n: v for n, v in g64.items() if "grad/" + n in fn["f64"]}  # the weights (not the states)
    top = max(float(np.abs(v).max()) for v in g64.values())
    live = [n for n, v in g64.items() if float(np.abs(v).max()) > 1e-6 * top]
    print(f"train: {len(g64)} weight gradients; zero in exact arithmetic (< 1e-6 of the largest), left out: "
          f"{', '.join(sorted(set(g64) - set(live))) or 'none'}")
    worst = {}
    for what, got in (("fn f64", fn["f64"]), ("fn f32", fn["f32"]), ("torch f32", g32)):
        got = {n[5:]: v for n, v in got.items() if n.startswith("grad/")} if what.startswith("fn") else got
        e = grad_errors(got, g64, live)
        worst[what] = e[-1][0]
        print(f"train: {what} against float64 PyTorch (stored as float32): worst relative error {e[-1][0]:.3g} "
              f"({e[-1][1]}), 95th percentile {e[int(0.95 * len(e))][0]:.3g}, median {e[len(e) // 2][0]:.3g}")
    return worst


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="fn-parity-torch-")
    os.makedirs(work, exist_ok=True)
    build_tools()
    print(f"CPU: {cpu_name()}; torch {torch.__version__}; work dir {work}")
    model = make_model()
    torch.save(model.state_dict(), f"{work}/fp.pt")
    fn_import(f"{work}/fp.pt", f"{work}/fp.ckpt")
    x, what = lfw_images(N, SIZE)
    x.tofile(f"{work}/images.f32")
    print(f"inputs: {what}, {SIZE}x{SIZE}")
    ok = verdict(eval_parity(model, x, work) <= 1e-5, "embeddings within 1e-5")
    worst = train_parity(model, x, work)
    ok &= verdict(worst["fn f64"] <= 1e-6, "fn's float64 gradients equal PyTorch's float64 (to the float32 the "
                  "reference is stored in)")
    ok &= verdict(worst["fn f32"] <= 2 * worst["torch f32"], "fn's float32 gradients within 2x PyTorch float32's "
                  "own worst error")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
