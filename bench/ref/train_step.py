"""Times the Inception-ResNet-v1 classifier training step in PyTorch, the peer of fn's step:
softmax cross-entropy on Logits + L2 weight decay (slim's wd * sum(w^2) / 2) + the prelogits
1-norm loss (5e-4), Adam, random images and labels. Modes: eager fp32 (NCHW), eager fp32
channels_last (`cl`, PyTorch's fastest CPU mode on the AMD EPYC of issue 27) and `cl-compile`
(the same under torch.compile): the CPU peers; eager with channels_last + autocast (`amp`, bf16)
and the latter with the network under torch.compile (`compile`; forward and backward through
Inductor; the optimiser step stays eager, fused on CUDA: compiling the whole step took over 200 s
on an H200 and did not finish in the lease): the GPU peers.

  python3 bench/ref/train_step.py --device cuda --batch 90 --mode amp --steps 30
prints one line: `mode=... batch=... images/s=...` (the median of --rounds timings of --steps
steps each, every round listed) after checking that the loss is finite.
"""
import argparse
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from inception_resnet_v1 import InceptionResnetV1  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=90)
    ap.add_argument("--image_size", type=int, default=160)
    ap.add_argument("--classes", type=int, default=10575)  # CASIA-WebFace, the seed page's data
    ap.add_argument("--embedding_size", type=int, default=512)
    ap.add_argument("--mode", choices=["fp32", "cl", "cl-compile", "amp", "compile"], default="amp")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="time the steps this many times; the median is reported")
    ap.add_argument("--embed", action="store_true", help="time inference instead: eval mode, no grad, "
                    "L2-normalised embeddings (the peer of bench/cpu/embed_bench)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    model = InceptionResnetV1(a.embedding_size, a.classes).to(dev)
    decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
    opt = torch.optim.Adam(model.parameters(), lr=0.05, betas=(0.9, 0.999), eps=0.1)
    channels_last = a.mode != "fp32"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    amp_dtype = torch.bfloat16
    autocast = a.mode in ("amp", "compile")  # the cl modes stay float32
    x = torch.randn(a.batch, 3, a.image_size, a.image_size, device=dev)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=amp_dtype, enabled=autocast):
            prelogits, logits = model(x)
            xent = F.cross_entropy(logits.float(), y)
        loss = xent + 5e-4 * prelogits.float().abs().sum(1).mean() + 5e-4 * 0.5 * sum((p * p).sum() for p in decay)
        loss.backward()
        opt.step()
        return loss

    if a.embed:
        model.eval()

        @torch.no_grad()
        def step():  # noqa: F811
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=autocast):
                prelogits, _ = model(x)
            e = F.normalize(prelogits.float(), dim=1)
            return (e.norm(dim=1) - 1).abs().max()
    if a.mode in ("compile", "cl-compile"):
        model = torch.compile(model)
    fn = step
    if not a.embed:
        model.train()
    for _ in range(a.warmup):
        loss = fn()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    if not torch.isfinite(loss).item():
        sys.exit(f"loss is not finite: {loss.item()}")
    rates = []
    for _ in range(max(1, a.rounds)):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            loss = fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        rates.append(a.batch * a.steps / (time.perf_counter() - t0))
    med = sorted(rates)[len(rates) // 2]
    print(f"mode={a.mode}{' embed' if a.embed else ''} device={a.device} batch={a.batch} image={a.image_size} steps={a.steps} "
          f"classes={a.classes} loss={loss.item():.3f} images/s={med:.1f} rounds={'/'.join(f'{r:.1f}' for r in rates)}")


if __name__ == "__main__":
    main()
