#!/usr/bin/python3
"""Builds a tiny encoder-decoder captioner whose decoder carries state in its key/value cache, in the Hugging Face /
Optimum ONNX layout with past key values, to test decoding with the cache against decoding without it:

  with-past/  onnx/encoder_model.onnx, onnx/decoder_model.onnx (logits + present.*), onnx/decoder_with_past_model.onnx
  merged/     onnx/encoder_model.onnx, onnx/decoder_model_merged.onnx (both decoders behind an If on use_cache_branch)

and the same config.json, preprocessor_config.json and vocab.txt in each. Names and shapes are Optimum's for one
decoder layer with one head: past_key_values.0.decoder.key [B,1,P,1] (decoder self-attention), past_key_values.0.
encoder.key [B,1,S,2] (cross-attention, computed once from encoder_hidden_states), present.0.* the same plus the new
token.

The encoder is the one of ../captioner (channel 0 of its state is mean(red) - mean(blue)). Logits at a position are a
next-token table of the current token, plus an image term read from the cross-attention cache (red or blue after
"a"), plus 30 x (number of "big" tokens so far) on [SEP], counted from the self-attention cache. Greedy decoding
from [DEC] gives "a red circle [SEP]" on a red image and "a blue square big big big big [SEP]" on a blue one: the
fourth "big" ends the caption only if the cache really holds every earlier token.

Run with Debian's python3-onnx: /usr/bin/python3 make_tiny_captioner_past.py (writes next to this script).
"""
import json, os, shutil
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[DEC]", "a", "red", "circle", "blue", "square", "big", "[MASK]"]
V = len(vocab)
ID = {w: i for i, w in enumerate(vocab)}
F = TensorProto.FLOAT

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
wd = np.zeros((2, V), dtype=np.float32)          # image term from the cross-attention cache
wd[0, ID["red"]] = 10
wd[0, ID["blue"]] = -10
wc = np.zeros((1, V), dtype=np.float32)          # per "big" so far, towards [SEP]
wc[0, ID["[SEP]"]] = 30
isbig = np.zeros(V, dtype=np.float32)
isbig[ID["big"]] = 1
inits = [numpy_helper.from_array(table, "table"), numpy_helper.from_array(wd, "wd"), numpy_helper.from_array(wc, "wc"),
         numpy_helper.from_array(isbig, "isbig"), numpy_helper.from_array(np.array([1], dtype=np.int64), "ax1"),
         numpy_helper.from_array(np.array([-1], dtype=np.int64), "axlast"), numpy_helper.from_array(np.array([1, 3], dtype=np.int64), "ax13"),
         numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "ax23")]
PAST = ["past_key_values.0.decoder.key", "past_key_values.0.decoder.value", "past_key_values.0.encoder.key", "past_key_values.0.encoder.value"]
PRESENT = [p.replace("past_key_values", "present") for p in PAST]


def plain(p):
    """Decoder without past on the whole prefix input_ids [B,T]; outputs logits and the cache it would leave."""
    N = helper.make_node
    return [
        N("Gather", ["table", "input_ids"], [p + "t"], axis=0),                       # [B,T,V]
        N("Gather", ["isbig", "input_ids"], [p + "big"], axis=0),                     # [B,T]
        N("CumSum", [p + "big", "ax1"], [p + "count"]),                               # [B,T] "big" tokens up to t
        N("Unsqueeze", [p + "count", "axlast"], [p + "count3"]),                      # [B,T,1]
        N("MatMul", [p + "count3", "wc"], [p + "c"]),                                 # [B,T,V]
        N("ReduceMean", ["encoder_hidden_states"], [p + "e"], axes=[1], keepdims=1),  # [B,1,2]
        N("MatMul", [p + "e", "wd"], [p + "i"]),                                      # [B,1,V]
        N("Add", [p + "t", p + "i"], [p + "ti"]),
        N("Add", [p + "ti", p + "c"], [p + "logits"]),
        N("Unsqueeze", [p + "big", "ax13"], [p + "dk"]),                              # [B,1,T,1]
        N("Identity", [p + "dk"], [p + "dv"]),
        N("Unsqueeze", ["encoder_hidden_states", "ax1"], [p + "ek"]),                 # [B,1,S,2]
        N("Identity", [p + "ek"], [p + "ev"]),
    ], [p + "logits", p + "dk", p + "dv", p + "ek", p + "ev"]


def with_past(p):
    """Decoder with past on the newest token input_ids [B,1]; the cross-attention cache passes through."""
    N = helper.make_node
    return [
        N("Gather", ["table", "input_ids"], [p + "t"], axis=0),                       # [B,1,V]
        N("Gather", ["isbig", "input_ids"], [p + "big"], axis=0),                     # [B,1]
        N("Unsqueeze", [p + "big", "ax13"], [p + "new"]),                             # [B,1,1,1]
        N("Concat", [PAST[0], p + "new"], [p + "dk"], axis=2),                        # [B,1,P+1,1]
        N("Concat", [PAST[1], p + "new"], [p + "dv"], axis=2),
        N("ReduceSum", [p + "dk", "ax23"], [p + "count"], keepdims=0),                # [B,1]
        N("Unsqueeze", [p + "count", "axlast"], [p + "count3"]),                      # [B,1,1]
        N("MatMul", [p + "count3", "wc"], [p + "c"]),                                 # [B,1,V]
        N("ReduceMean", [PAST[2]], [p + "e"], axes=[2], keepdims=0),                  # [B,1,2]
        N("MatMul", [p + "e", "wd"], [p + "i"]),
        N("Add", [p + "t", p + "i"], [p + "ti"]),
        N("Add", [p + "ti", p + "c"], [p + "logits"]),
        N("Identity", [PAST[2]], [p + "ek"]),
        N("Identity", [PAST[3]], [p + "ev"]),
    ], [p + "logits", p + "dk", p + "dv", p + "ek", p + "ev"]


def info(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


ids_in = info("input_ids", TensorProto.INT64, ["batch_size", "decoder_sequence_length"])
enc_in = info("encoder_hidden_states", F, ["batch_size", "encoder_sequence_length", 2])
past_in = [info(PAST[0], F, ["batch_size", 1, "past_decoder_sequence_length", 1]), info(PAST[1], F, ["batch_size", 1, "past_decoder_sequence_length", 1]),
           info(PAST[2], F, ["batch_size", 1, "encoder_sequence_length_out", 2]), info(PAST[3], F, ["batch_size", 1, "encoder_sequence_length_out", 2])]
logits_out = info("logits", F, ["batch_size", "decoder_sequence_length", V])
present_out = [info(PRESENT[0], F, ["batch_size", 1, "past_decoder_sequence_length + 1", 1]), info(PRESENT[1], F, ["batch_size", 1, "past_decoder_sequence_length + 1", 1]),
               info(PRESENT[2], F, ["batch_size", 1, "encoder_sequence_length_out", 2]), info(PRESENT[3], F, ["batch_size", 1, "encoder_sequence_length_out", 2])]


def renamed(nodes_outs, names):
    nodes, outs = nodes_outs
    return nodes + [helper.make_node("Identity", [o], [n]) for o, n in zip(outs, names)]


OUTS = ["logits"] + PRESENT
decoder = helper.make_graph(renamed(plain("np_"), OUTS), "tiny_decoder", [ids_in, enc_in], [logits_out] + present_out[:2] + present_out[2:], inits)
decoder_past = helper.make_graph(renamed(with_past("wp_"), OUTS[:3]), "tiny_decoder_with_past", [ids_in] + past_in, [logits_out] + present_out[:2], inits)
# Merged: Optimum's decoder_model_merged, both graphs behind an If on use_cache_branch (bool [1]).
then_g = helper.make_graph(renamed(with_past("wp_"), ["then_" + o for o in OUTS]), "with_past_branch", [], [info("then_" + o, F, None) for o in OUTS])
else_g = helper.make_graph(renamed(plain("np_"), ["else_" + o for o in OUTS]), "no_past_branch", [], [info("else_" + o, F, None) for o in OUTS])
merged = helper.make_graph(
    [helper.make_node("If", ["use_cache_branch"], OUTS, then_branch=then_g, else_branch=else_g)],
    "tiny_decoder_merged", [ids_in, enc_in] + past_in + [info("use_cache_branch", TensorProto.BOOL, [1])], [logits_out] + present_out, inits)


def save(graph, folder, name):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_tiny_captioner_past.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(os.path.join(here, folder, "onnx"), exist_ok=True)
    onnx.save(model, os.path.join(here, folder, "onnx", name + ".onnx"))


save(decoder, "with-past", "decoder_model")
save(decoder_past, "with-past", "decoder_with_past_model")
save(merged, "merged", "decoder_model_merged")
plain_captioner = os.path.join(here, "..", "captioner")
for folder in ["with-past", "merged"]:
    shutil.copy(os.path.join(plain_captioner, "onnx", "encoder_model.onnx"), os.path.join(here, folder, "onnx"))
    for f in ["config.json", "preprocessor_config.json", "vocab.txt"]:
        shutil.copy(os.path.join(plain_captioner, f), os.path.join(here, folder))
