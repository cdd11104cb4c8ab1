"""Inception-ResNet-v1 as davidsandberg/facenet builds it (REFERENCE §5), in PyTorch: the peer
that fn's training step is timed against (bench/gpu/check.sh, bench/cpu). Written from the layer
list, not from any other port: conv -> batch norm (eps 0.001, moving-average decay 0.995, a
beta but no gamma) -> ReLU, residual blocks scaled 0.17 / 0.10 / 0.20, a final Block8 without
ReLU, global average pool, dropout, a 1792 -> E bottleneck with batch norm, and the Logits layer.
With E = 512 it has 23,467,824 learnable values outside Logits, as `fnc info` reports for
models/inception_resnet_v1.fn.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BNBeta(nn.Module):
    """slim.batch_norm(center=True, scale=False): normalise, add beta; no gamma."""

    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c, eps=1e-3, momentum=0.005, affine=False)
        self.beta = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        return self.bn(x) + self.beta.view(1, -1, 1, 1)


class ConvBN(nn.Module):
    """conv (no bias) -> BN -> ReLU; SAME padding unless valid=True (TensorFlow's rules)."""

    def __init__(self, cin, cout, k, stride=1, valid=False):
        super().__init__()
        kh, kw = (k, k) if isinstance(k, int) else k
        self.conv = nn.Conv2d(cin, cout, (kh, kw), stride, bias=False,
                              padding=0 if valid or stride > 1 else (kh // 2, kw // 2))
        self.bn = BNBeta(cout)
        self.same_strided = not valid and stride > 1
        self.k, self.stride = (kh, kw), stride

    def forward(self, x):
        if self.same_strided:  # TF SAME with stride: pad total = max(k - s, 0) (even input), more after
            ph, pw = max(self.k[0] - self.stride, 0), max(self.k[1] - self.stride, 0)
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.relu(self.bn(self.conv(x)))


class Block35(nn.Module):
    def __init__(self, scale=0.17):
        super().__init__()
        self.b0 = ConvBN(256, 32, 1)
        self.b1 = nn.Sequential(ConvBN(256, 32, 1), ConvBN(32, 32, 3))
        self.b2 = nn.Sequential(ConvBN(256, 32, 1), ConvBN(32, 32, 3), ConvBN(32, 32, 3))
        self.up = nn.Conv2d(96, 256, 1, bias=True)
        self.scale = scale

    def forward(self, x):
        u = self.up(torch.cat([self.b0(x), self.b1(x), self.b2(x)], 1))
        return F.relu(x + self.scale * u)


class Block17(nn.Module):
    def __init__(self, scale=0.10):
        super().__init__()
        self.b0 = ConvBN(896, 128, 1)
        self.b1 = nn.Sequential(ConvBN(896, 128, 1), ConvBN(128, 128, (1, 7)), ConvBN(128, 128, (7, 1)))
        self.up = nn.Conv2d(256, 896, 1, bias=True)
        self.scale = scale

    def forward(self, x):
        u = self.up(torch.cat([self.b0(x), self.b1(x)], 1))
        return F.relu(x + self.scale * u)


class Block8(nn.Module):
    def __init__(self, scale=0.20, activation=True):
        super().__init__()
        self.b0 = ConvBN(1792, 192, 1)
        self.b1 = nn.Sequential(ConvBN(1792, 192, 1), ConvBN(192, 192, (1, 3)), ConvBN(192, 192, (3, 1)))
        self.up = nn.Conv2d(384, 1792, 1, bias=True)
        self.scale, self.activation = scale, activation

    def forward(self, x):
        y = x + self.scale * self.up(torch.cat([self.b0(x), self.b1(x)], 1))
        return F.relu(y) if self.activation else y


class ReductionA(nn.Module):  # Mixed_6a: k=192, l=192, m=256, n=384
    def __init__(self):
        super().__init__()
        self.b0 = ConvBN(256, 384, 3, 2, valid=True)
        self.b1 = nn.Sequential(ConvBN(256, 192, 1), ConvBN(192, 192, 3), ConvBN(192, 256, 3, 2, valid=True))

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1(x), F.max_pool2d(x, 3, 2)], 1)


class ReductionB(nn.Module):  # Mixed_7a
    def __init__(self):
        super().__init__()
        self.b0 = nn.Sequential(ConvBN(896, 256, 1), ConvBN(256, 384, 3, 2, valid=True))
        self.b1 = nn.Sequential(ConvBN(896, 256, 1), ConvBN(256, 256, 3, 2, valid=True))
        self.b2 = nn.Sequential(ConvBN(896, 256, 1), ConvBN(256, 256, 3), ConvBN(256, 256, 3, 2, valid=True))

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1(x), self.b2(x), F.max_pool2d(x, 3, 2)], 1)


class InceptionResnetV1(nn.Module):
    def __init__(self, embedding_size=512, classes=None, keep_probability=0.8):
        super().__init__()
        self.stem = nn.Sequential(
            ConvBN(3, 32, 3, 2, valid=True), ConvBN(32, 32, 3, valid=True), ConvBN(32, 64, 3),
            nn.MaxPool2d(3, 2), ConvBN(64, 80, 1, valid=True), ConvBN(80, 192, 3, valid=True),
            ConvBN(192, 256, 3, 2, valid=True))
        self.body = nn.Sequential(*[Block35() for _ in range(5)], ReductionA(),
                                  *[Block17() for _ in range(10)], ReductionB(),
                                  *[Block8() for _ in range(5)], Block8(1.0, activation=False))
        self.dropout = nn.Dropout(1 - keep_probability)
        self.bottleneck = nn.Linear(1792, embedding_size, bias=False)
        self.bottleneck_bn = nn.BatchNorm1d(embedding_size, eps=1e-3, momentum=0.005, affine=False)
        self.bottleneck_beta = nn.Parameter(torch.zeros(embedding_size))
        self.logits = nn.Linear(embedding_size, classes) if classes else None
        for m in self.modules():  # Glorot uniform, as slim's xavier_initializer
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.body(self.stem(x))
        x = self.dropout(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
        prelogits = self.bottleneck_bn(self.bottleneck(x)) + self.bottleneck_beta
        return prelogits, (self.logits(prelogits) if self.logits is not None else None)


def learnable_outside_logits(model):
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith("logits."))


if __name__ == "__main__":
    m = InceptionResnetV1(512)
    print("learnable values outside Logits:", learnable_outside_logits(m))
    with torch.no_grad():
        m.eval()
        for size in (160, 75):
            p, _ = m(torch.zeros(2, 3, size, size))
            print(f"{size}x{size} -> prelogits {tuple(p.shape)}")
