#!/usr/bin/python3
"""Builds a tiny encoder-decoder captioner in the Hugging Face / Optimum ONNX layout (encoder_model.onnx,
decoder_model.onnx, config.json, preprocessor_config.json, vocab.txt) whose greedy captions are known in
advance, to test the captioner's decoding loop, batching and stopping (no real captioner fits in the repository).

encoder_model: pixel_values [B,3,8,8] -> last_hidden_state [B,1,2]; channel 0 is mean(red) - mean(blue).
decoder_model: input_ids [B,T], encoder_hidden_states [B,S,2] -> logits [B,T,V]: a fixed next-token table, plus
an image term that decides between "red" and "blue" after "a". Greedy decoding from [DEC] gives
"a red circle [SEP]" on a red image and "a blue square big big ..." (never stopping) on a blue one.

Run with Debian's python3-onnx: /usr/bin/python3 make_tiny_captioner.py (writes next to this script).
"""
import json, os
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[DEC]", "a", "red", "circle", "blue", "square", "big", "[MASK]"]
V = len(vocab)
ID = {w: i for i, w in enumerate(vocab)}

we = np.array([[1, 0], [0, 0], [-1, 1]], dtype=np.float32)          # [3,2]
enc = helper.make_graph(
    [helper.make_node("ReduceMean", ["pixel_values"], ["m"], axes=[2, 3], keepdims=0),
     helper.make_node("MatMul", ["m", "we"], ["h"]),
     helper.make_node("Unsqueeze", ["h", "axis1"], ["last_hidden_state"])],
    "tiny_encoder",
    [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch_size", 3, 8, 8])],
    [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", 1, 2])],
    [numpy_helper.from_array(we, "we"), numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")])

table = np.zeros((V, V), dtype=np.float32)
for w in vocab:
    table[ID[w], ID["[SEP]"]] = 100
def rule(a, b, v=100.0):
    table[ID[a]] = 0
    table[ID[a], ID[b]] = v
rule("[DEC]", "a"); rule("red", "circle"); rule("circle", "[SEP]"); rule("blue", "square")
rule("square", "big"); rule("big", "big"); rule("[SEP]", "[PAD]"); rule("[PAD]", "[PAD]")
table[ID["a"]] = 0
table[ID["a"], ID["red"]] = 50
table[ID["a"], ID["blue"]] = 50
wd = np.zeros((2, V), dtype=np.float32)
wd[0, ID["red"]] = 10
wd[0, ID["blue"]] = -10
dec = helper.make_graph(
    [helper.make_node("Gather", ["table", "input_ids"], ["t"], axis=0),
     helper.make_node("ReduceMean", ["encoder_hidden_states"], ["e"], axes=[1], keepdims=1),
     helper.make_node("MatMul", ["e", "wd"], ["i"]),
     helper.make_node("Add", ["t", "i"], ["logits"])],
    "tiny_decoder",
    [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "decoder_sequence_length"]),
     helper.make_tensor_value_info("encoder_hidden_states", TensorProto.FLOAT, ["batch_size", "encoder_sequence_length", 2])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "decoder_sequence_length", V])],
    [numpy_helper.from_array(table, "table"), numpy_helper.from_array(wd, "wd")])

os.makedirs(os.path.join(here, "onnx"), exist_ok=True)
for graph, name in [(enc, "encoder_model"), (dec, "decoder_model")]:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_tiny_captioner.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(here, "onnx", name + ".onnx"))
with open(os.path.join(here, "vocab.txt"), "w") as f:
    f.write("\n".join(vocab) + "\n")
with open(os.path.join(here, "config.json"), "w") as f:
    json.dump({"model_type": "tiny-captioner", "decoder_start_token_id": ID["[DEC]"], "eos_token_id": ID["[SEP]"], "pad_token_id": ID["[PAD]"]}, f, indent=1)
with open(os.path.join(here, "preprocessor_config.json"), "w") as f:
    json.dump({"do_resize": True, "size": {"height": 8, "width": 8}, "resample": 2, "do_center_crop": False,
               "rescale_factor": 1 / 255, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}, f, indent=1)
