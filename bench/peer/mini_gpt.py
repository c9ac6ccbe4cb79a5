"""The Python twin of src/models/mini-gpt.ts: same parameter names, same op sequence, so losses agree."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["numHeads"]
        self.qkv = nn.Linear(c["dModel"], 3 * c["dModel"])
        self.proj = nn.Linear(c["dModel"], c["dModel"])

    def forward(self, x):
        b, t, w = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4).split(1, 0)
        y = F.scaled_dot_product_attention(q.squeeze(0), k.squeeze(0), v.squeeze(0), is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, w))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc = nn.Linear(c["dModel"], 4 * c["dModel"])
        self.proj = nn.Linear(4 * c["dModel"], c["dModel"])

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln1 = nn.LayerNorm(c["dModel"])
        self.attn = CausalSelfAttention(c)
        self.ln2 = nn.LayerNorm(c["dModel"])
        self.mlp = MLP(c)

    def forward(self, x):
        h = x + self.attn(self.ln1(x))
        return h + self.mlp(self.ln2(h))


class MiniGPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c["vocabSize"], c["dModel"])
        self.wpe = nn.Embedding(c["maxPositions"], c["dModel"])
        self.blocks = nn.ModuleList([Block(c) for _ in range(c["numLayers"])])
        self.ln_f = nn.LayerNorm(c["dModel"])
        self.head = nn.Linear(c["dModel"], c["vocabSize"], bias=False)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def loss(self, ids):
        logits = self(ids[:, :-1])
        return F.cross_entropy(logits.reshape(-1, self.c["vocabSize"]), ids[:, 1:].reshape(-1))


class MLP2(nn.Module):
    """Twin of the two-layer MLP in test/train-vs-pytorch.test.ts."""

    def __init__(self, inputs, hidden, outputs):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc2 = nn.Linear(hidden, outputs)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))
