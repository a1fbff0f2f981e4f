"""A question-embedding forward pass that runs without the GIL.

The eager transformers forward dispatches a hundred small torch ops from Python, taking
the GIL back between each. Under load the answer threads hold the GIL, so every hand-off
waits for a switch interval: a batch that costs 50 ms of CPU took 280 ms on the server,
and 2.2 s next to three busy Python threads. The same arithmetic compiled with
TorchScript runs as one call that releases the GIL for the whole pass (61 ms there).

Only the architecture of the bundled model is compiled: a BERT encoder (absolute
positions, exact GELU) followed by mean pooling. ``compile_encoder`` returns ``None``
for anything else and the caller keeps sentence-transformers' own forward; tokenisation
is always sentence-transformers' own, so both paths see the same token ids.

TorchScript is deprecated in torch 2.x (``torch.compile`` and ``torch.export`` replace it,
but neither runs a whole graph in one GIL-free call). torch is pinned; should a release
drop ``torch.jit.script``, ``compile_encoder`` returns ``None`` and questions take the
eager forward again, slower under load but the same vectors.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - torch's own convention


class _BertMeanPool(torch.nn.Module):
    """BERT encoder + attention-masked mean pooling + L2 normalisation, in TorchScript-able form."""

    def __init__(self, bert: Any) -> None:
        super().__init__()
        cfg = bert.config
        emb = bert.embeddings
        self.heads = int(cfg.num_attention_heads)
        self.eps = float(cfg.layer_norm_eps)
        self.word = emb.word_embeddings.weight.detach()
        self.position = emb.position_embeddings.weight.detach()
        self.token_type = emb.token_type_embeddings.weight.detach()[0]
        self.emb_ln_w = emb.LayerNorm.weight.detach()
        self.emb_ln_b = emb.LayerNorm.bias.detach()
        qkv_w, qkv_b, out_w, out_b, ln1_w, ln1_b = [], [], [], [], [], []
        up_w, up_b, down_w, down_b, ln2_w, ln2_b = [], [], [], [], [], []
        for layer in bert.encoder.layer:
            att = layer.attention
            qkv_w.append(torch.cat([att.self.query.weight, att.self.key.weight, att.self.value.weight]).detach())
            qkv_b.append(torch.cat([att.self.query.bias, att.self.key.bias, att.self.value.bias]).detach())
            out_w.append(att.output.dense.weight.detach())
            out_b.append(att.output.dense.bias.detach())
            ln1_w.append(att.output.LayerNorm.weight.detach())
            ln1_b.append(att.output.LayerNorm.bias.detach())
            up_w.append(layer.intermediate.dense.weight.detach())
            up_b.append(layer.intermediate.dense.bias.detach())
            down_w.append(layer.output.dense.weight.detach())
            down_b.append(layer.output.dense.bias.detach())
            ln2_w.append(layer.output.LayerNorm.weight.detach())
            ln2_b.append(layer.output.LayerNorm.bias.detach())
        self.qkv_w, self.qkv_b, self.out_w, self.out_b = qkv_w, qkv_b, out_w, out_b
        self.ln1_w, self.ln1_b, self.up_w, self.up_b = ln1_w, ln1_b, up_w, up_b
        self.down_w, self.down_b, self.ln2_w, self.ln2_b = down_w, down_b, ln2_w, ln2_b

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        batch, length = input_ids.shape[0], input_ids.shape[1]
        hidden = self.word.shape[1]
        head_dim = hidden // self.heads
        x = self.word[input_ids] + self.position[:length].unsqueeze(0) + self.token_type
        x = F.layer_norm(x, [hidden], self.emb_ln_w, self.emb_ln_b, self.eps)
        keep = attention_mask.to(torch.bool)[:, None, None, :]
        for i in range(len(self.qkv_w)):
            qkv = F.linear(x, self.qkv_w[i], self.qkv_b[i]).view(batch, length, 3, self.heads, head_dim)
            qkv = qkv.permute(2, 0, 3, 1, 4)
            ctx = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=keep)
            ctx = ctx.transpose(1, 2).reshape(batch, length, hidden)
            x = F.layer_norm(F.linear(ctx, self.out_w[i], self.out_b[i]) + x, [hidden],
                             self.ln1_w[i], self.ln1_b[i], self.eps)
            up = F.gelu(F.linear(x, self.up_w[i], self.up_b[i]))
            x = F.layer_norm(F.linear(up, self.down_w[i], self.down_b[i]) + x, [hidden],
                             self.ln2_w[i], self.ln2_b[i], self.eps)
        weights = attention_mask.to(x.dtype).unsqueeze(-1)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2.0, dim=1)


def compile_encoder(model: Any) -> torch.jit.ScriptModule | None:
    """A TorchScript forward for a sentence-transformers ``model``, or ``None`` when its
    architecture is not the one compiled here (the caller then uses ``model.encode``)."""
    try:
        modules = list(model)
        if not 2 <= len(modules) <= 3:
            return None
        transformer, pooling = modules[0], modules[1]
        if type(transformer).__name__ != "Transformer" or type(pooling).__name__ != "Pooling":
            return None
        if len(modules) == 3 and type(modules[2]).__name__ != "Normalize":
            return None
        pool_cfg = pooling.get_config_dict()
        if pool_cfg.get("pooling_mode", "mean") != "mean" or not pool_cfg.get("include_prompt", True):
            return None
        bert = transformer.auto_model
        cfg = bert.config
        if (cfg.model_type != "bert" or cfg.hidden_act != "gelu"
                or getattr(cfg, "position_embedding_type", "absolute") != "absolute"):
            return None
        if next(bert.parameters()).device.type != "cpu":
            return None
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated", category=DeprecationWarning)
            return torch.jit.script(_BertMeanPool(bert).eval())
    except Exception:  # noqa: BLE001 - any surprise means: use the library's own forward
        return None
