#!/usr/bin/python3
# For `finerewards bench onnx`: writes vision_model.onnx and text_model.onnx to the folder given (Debian python3-torch 1.13).
# CLIP ViT-B/32-sized towers at random weights (width 768/12 layers/12 heads, patch 32, 224 px; text 512/12 layers/8 heads,
# 77 tokens, 49408 vocab; projection 512), pre-norm transformer blocks as CLIP's, exported with the fixture's I/O names.
import torch, torch.nn as nn, sys, os
torch.manual_seed(0)
out = sys.argv[1]
class Vision(nn.Module):
    def __init__(s):
        super().__init__()
        s.patch = nn.Conv2d(3, 768, 32, 32, bias=False)
        s.cls = nn.Parameter(torch.randn(768) * 0.02); s.pos = nn.Parameter(torch.randn(50, 768) * 0.02)
        s.pre = nn.LayerNorm(768)
        s.blocks = nn.TransformerEncoder(nn.TransformerEncoderLayer(768, 12, 3072, 0.0, activation="gelu", batch_first=True, norm_first=True), 12)
        s.post = nn.LayerNorm(768); s.proj = nn.Linear(768, 512, bias=False)
    def forward(s, pixel_values):
        x = s.patch(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat([s.cls.expand(x.shape[0], 1, 768), x], 1) + s.pos
        x = s.blocks(s.pre(x))
        return s.proj(s.post(x[:, 0]))
class Text(nn.Module):
    def __init__(s):
        super().__init__()
        s.tok = nn.Embedding(49408, 512); s.pos = nn.Parameter(torch.randn(77, 512) * 0.01)
        s.blocks = nn.TransformerEncoder(nn.TransformerEncoderLayer(512, 8, 2048, 0.0, activation="gelu", batch_first=True, norm_first=True), 12)
        s.ln = nn.LayerNorm(512); s.proj = nn.Linear(512, 512, bias=False)
        s.register_buffer("mask", torch.full((77, 77), float("-inf")).triu(1))
    def forward(s, input_ids):
        x = s.blocks(s.tok(input_ids) + s.pos, mask=s.mask)
        x = s.ln(x)
        return s.proj(x[torch.arange(x.shape[0]), input_ids.argmax(-1)])
v, t = Vision().eval(), Text().eval()
if True:  # grad enabled: keeps nn.TransformerEncoderLayer off its fused fast path, which has no ONNX export
    torch.onnx.export(v, torch.randn(2, 3, 224, 224), os.path.join(out, "vision_model.onnx"), input_names=["pixel_values"], output_names=["image_embeds"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}}, opset_version=17)
    ids = torch.zeros(2, 77, dtype=torch.long); ids[:, 0] = 49406; ids[:, 5] = 49407
    torch.onnx.export(t, ids, os.path.join(out, "text_model.onnx"), input_names=["input_ids"], output_names=["text_embeds"],
                      dynamic_axes={"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}}, opset_version=17)
print(sum(p.numel() for p in v.parameters()) / 1e6, "M vision;", sum(p.numel() for p in t.parameters()) / 1e6, "M text")
