#!/usr/bin/python3
# For `finerewards bench onnx`: writes a SAM folder (onnx/vision_encoder.onnx, onnx/prompt_decoder.onnx, config.json) to the
# folder given (Debian python3-torch 1.13, run by hand, not by CI). Segment Anything ViT-B sizes at random weights:
# image encoder width 768, 12 blocks, 12 heads, patch 16 at 1024 px, 14x14 windows with global attention in blocks
# 2/5/8/11, decomposed relative positions, neck to 256 channels; prompt encoder and mask decoder of width 256 (two-way
# transformer, depth 2, 8 heads, MLP 2048, 4 mask tokens + IoU token), wrapped as the official decoder export
# (inputs image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size; best mask of the
# single-point rule; masks upscaled to 1024, cropped to the resized image, resized to the original size).
import json, math, os, sys
import torch, torch.nn as nn, torch.nn.functional as F

torch.manual_seed(0)
out = sys.argv[1]
os.makedirs(os.path.join(out, "onnx"), exist_ok=True)


class Norm2d(nn.Module):  # LayerNorm over channels of [B,C,H,W]
    def __init__(s, c):
        super().__init__()
        s.weight, s.bias = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c))

    def forward(s, x):
        u = x.mean(1, keepdim=True)
        v = (x - u).pow(2).mean(1, keepdim=True)
        return s.weight[:, None, None] * (x - u) / torch.sqrt(v + 1e-6) + s.bias[:, None, None]


def rel_table(size, table):  # table [2*size-1, d] -> [size, size, d], offset q - k
    idx = torch.arange(size)[:, None] - torch.arange(size)[None, :] + size - 1
    return table[idx]


class WindowAttention(nn.Module):
    def __init__(s, dim, heads, size):
        super().__init__()
        s.heads, s.size = heads, size
        s.qkv, s.proj = nn.Linear(dim, dim * 3), nn.Linear(dim, dim)
        s.rel_pos_h = nn.Parameter(torch.randn(2 * size - 1, dim // heads) * 0.02)
        s.rel_pos_w = nn.Parameter(torch.randn(2 * size - 1, dim // heads) * 0.02)

    def forward(s, x):  # [B,H,W,C], H = W = size
        b, h, w, c = x.shape
        d = c // s.heads
        qkv = s.qkv(x).reshape(b, h * w, 3, s.heads, d).permute(2, 0, 3, 1, 4).reshape(3, b * s.heads, h * w, d)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * d ** -0.5) @ k.transpose(-2, -1)              # [B*heads, HW, HW]
        rq = q.reshape(b * s.heads, h, w, d)
        rel_h = torch.einsum("bhwc,hkc->bhwk", rq, rel_table(h, s.rel_pos_h))
        rel_w = torch.einsum("bhwc,wkc->bhwk", rq, rel_table(w, s.rel_pos_w))
        attn = (attn.view(b * s.heads, h, w, h, w) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).view(b * s.heads, h * w, h * w)
        x = (attn.softmax(-1) @ v).view(b, s.heads, h, w, d).permute(0, 2, 3, 1, 4).reshape(b, h, w, c)
        return s.proj(x)


class EncoderBlock(nn.Module):
    def __init__(s, dim, heads, window, grid):
        super().__init__()
        s.window = window
        s.norm1, s.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        s.attn = WindowAttention(dim, heads, window if window > 0 else grid)
        s.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(s, x):  # [1,64,64,768]
        shortcut, x = x, s.norm1(x)
        if s.window > 0:
            b, h, w, c = x.shape
            ws = s.window
            ph, pw = (ws - h % ws) % ws, (ws - w % ws) % ws
            x = F.pad(x, (0, 0, 0, pw, 0, ph))                    # [1,70,70,768]
            hp, wp = h + ph, w + pw
            x = x.view(b, hp // ws, ws, wp // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws, ws, c)   # [25,14,14,768]
            x = s.attn(x)
            x = x.view(b, hp // ws, wp // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)[:, :h, :w]
        else:
            x = s.attn(x)
        x = shortcut + x
        return x + s.mlp(s.norm2(x))


class ImageEncoder(nn.Module):
    def __init__(s, dim=768, depth=12, heads=12, out=256, window=14, globals_=(2, 5, 8, 11)):
        super().__init__()
        s.patch_embed = nn.Conv2d(3, dim, 16, 16)
        s.pos_embed = nn.Parameter(torch.randn(1, 64, 64, dim) * 0.02)
        s.blocks = nn.ModuleList(EncoderBlock(dim, heads, 0 if i in globals_ else window, 64) for i in range(depth))
        s.neck = nn.Sequential(nn.Conv2d(dim, out, 1, bias=False), Norm2d(out), nn.Conv2d(out, out, 3, padding=1, bias=False), Norm2d(out))

    def forward(s, pixel_values):  # [1,3,1024,1024] -> [1,256,64,64]
        x = s.patch_embed(pixel_values).permute(0, 2, 3, 1) + s.pos_embed
        for blk in s.blocks:
            x = blk(x)
        return s.neck(x.permute(0, 3, 1, 2))


class Attention(nn.Module):  # the decoder's attention, optionally on a downsampled inner width
    def __init__(s, dim, heads, down=1):
        super().__init__()
        s.heads, inner = heads, dim // down
        s.q_proj, s.k_proj, s.v_proj, s.out_proj = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(inner, dim)

    def forward(s, q, k, v):
        def split(x):
            return x.reshape(x.shape[0], x.shape[1], s.heads, -1).transpose(1, 2)
        q, k, v = split(s.q_proj(q)), split(s.k_proj(k)), split(s.v_proj(v))
        a = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
        x = (a @ v).transpose(1, 2)
        return s.out_proj(x.reshape(x.shape[0], x.shape[1], -1))


class TwoWayBlock(nn.Module):
    def __init__(s, dim, heads, mlp, first):
        super().__init__()
        s.first = first
        s.self_attn = Attention(dim, heads)
        s.cross_attn_token_to_image = Attention(dim, heads, 2)
        s.cross_attn_image_to_token = Attention(dim, heads, 2)
        s.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.ReLU(), nn.Linear(mlp, dim))
        s.norm1, s.norm2, s.norm3, s.norm4 = (nn.LayerNorm(dim) for _ in range(4))

    def forward(s, queries, keys, query_pe, key_pe):
        queries = s.self_attn(queries, queries, queries) if s.first else queries + s.self_attn(queries + query_pe, queries + query_pe, queries)
        queries = s.norm1(queries)
        queries = s.norm2(queries + s.cross_attn_token_to_image(queries + query_pe, keys + key_pe, keys))
        queries = s.norm3(queries + s.mlp(queries))
        keys = s.norm4(keys + s.cross_attn_image_to_token(keys + key_pe, queries + query_pe, queries))
        return queries, keys


def mlp3(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, o))


class PromptDecoder(nn.Module):
    def __init__(s, dim=256, masks=4):
        super().__init__()
        s.register_buffer("gaussian", torch.randn(2, dim // 2))
        s.point_embeddings = nn.Parameter(torch.randn(4, dim) * 0.02)   # background, foreground, box corners
        s.not_a_point_embed = nn.Parameter(torch.randn(dim) * 0.02)
        s.no_mask_embed = nn.Parameter(torch.randn(dim) * 0.02)
        s.mask_downscaling = nn.Sequential(nn.Conv2d(1, 4, 2, 2), Norm2d(4), nn.GELU(), nn.Conv2d(4, 16, 2, 2), Norm2d(16), nn.GELU(), nn.Conv2d(16, dim, 1))
        s.iou_token, s.mask_tokens = nn.Parameter(torch.randn(1, dim) * 0.02), nn.Parameter(torch.randn(masks, dim) * 0.02)
        s.layers = nn.ModuleList(TwoWayBlock(dim, 8, 2048, i == 0) for i in range(2))
        s.final_attn_token_to_image, s.norm_final = Attention(dim, 8, 2), nn.LayerNorm(dim)
        s.output_upscaling = nn.Sequential(nn.ConvTranspose2d(dim, dim // 4, 2, 2), Norm2d(dim // 4), nn.GELU(), nn.ConvTranspose2d(dim // 4, dim // 8, 2, 2), nn.GELU())
        s.hypernetworks = nn.ModuleList(mlp3(dim, dim, dim // 8) for _ in range(masks))
        s.iou_head = mlp3(dim, dim, masks)

    def pe(s, coords):  # coords in [0,1], [..., 2] -> [..., 256]
        c = (2 * coords - 1) @ s.gaussian * (2 * math.pi)
        return torch.cat([c.sin(), c.cos()], -1)

    def forward(s, image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size):
        labels = point_labels[..., None]
        sparse = s.pe((point_coords + 0.5) / 1024) * (labels != -1)
        sparse = sparse + s.not_a_point_embed * (labels == -1)
        for i in range(4):
            sparse = sparse + s.point_embeddings[i] * (labels == i)        # [1,N,256]
        dense = s.mask_downscaling(mask_input) * has_mask_input + (1 - has_mask_input) * s.no_mask_embed.view(1, -1, 1, 1)
        ys, xs = torch.meshgrid((torch.arange(64) + 0.5) / 64, (torch.arange(64) + 0.5) / 64, indexing="ij")
        image_pe = s.pe(torch.stack([xs, ys], -1)).permute(2, 0, 1)[None]     # [1,256,64,64]
        tokens = torch.cat([s.iou_token, s.mask_tokens], 0)[None]
        tokens = torch.cat([tokens, sparse], 1)                                 # [1,5+N,256]
        src = (image_embeddings + dense).flatten(2).transpose(1, 2)            # [1,4096,256]
        pos = image_pe.flatten(2).transpose(1, 2)
        q, k = tokens, src
        for layer in s.layers:
            q, k = layer(q, k, tokens, pos)
        q = s.norm_final(q + s.final_attn_token_to_image(q + tokens, k + pos, k))
        up = s.output_upscaling(k.transpose(1, 2).reshape(1, 256, 64, 64))     # [1,32,256,256]
        hyper = torch.stack([s.hypernetworks[i](q[:, 1 + i]) for i in range(4)], 1)   # [1,4,32]
        masks = (hyper @ up.flatten(2)).view(1, 4, 256, 256)
        iou = s.iou_head(q[:, 0])                                               # [1,4]
        # Single mask: one point prompts pick among the multimask outputs, more points take the first.
        iou = iou + torch.tensor([[1000.0, 0, 0, 0]]) * (point_coords.shape[1] - 2.5)
        best = iou.argmax(1)
        low = masks[:, best]                                                    # [1,1,256,256]
        iou = iou[:, best]
        m = F.interpolate(low, (1024, 1024), mode="bilinear", align_corners=False)
        size = (orig_im_size * (1024 / orig_im_size.max())).round().long()
        m = m[..., : size[0], : size[1]]
        m = F.interpolate(m, (orig_im_size[0].long(), orig_im_size[1].long()), mode="bilinear", align_corners=False)
        return m, iou, low


enc, dec = ImageEncoder().eval(), PromptDecoder().eval()
with torch.no_grad():
    torch.onnx.export(enc, torch.randn(1, 3, 1024, 1024), os.path.join(out, "onnx", "vision_encoder.onnx"),
                      input_names=["pixel_values"], output_names=["image_embeddings"], opset_version=17)
    inputs = (torch.randn(1, 256, 64, 64), torch.randint(0, 1024, (1, 5, 2)).float(), torch.randint(-1, 4, (1, 5)).float(),
              torch.randn(1, 1, 256, 256), torch.tensor([1.0]), torch.tensor([800.0, 600.0]))
    torch.onnx.export(dec, inputs, os.path.join(out, "onnx", "prompt_decoder.onnx"),
                      input_names=["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"],
                      output_names=["masks", "iou_predictions", "low_res_masks"],
                      dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}, opset_version=17)
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump({"image_size": 1024, "patch_size": 16, "embed_dim": 768, "pixel_mean": [123.675, 116.28, 103.53],
               "pixel_std": [58.395, 57.12, 57.375], "mask_threshold": 0.0}, f, indent=1)
print(sum(p.numel() for p in enc.parameters()) / 1e6, "M encoder;", sum(p.numel() for p in dec.parameters()) / 1e6, "M decoder")
