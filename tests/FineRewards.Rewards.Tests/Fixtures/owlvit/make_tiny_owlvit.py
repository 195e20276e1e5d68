#!/usr/bin/python3
"""A tiny detector graph in the Hugging Face OWL-ViT ONNX layout, with weights chosen by hand.

Inputs and outputs carry the real export's names and ranks (input_ids [B*Q,L] int64, pixel_values [B,3,H,W],
attention_mask [B*Q,L] int64 -> logits [B,P,Q], pred_boxes [B,P,4] as normalised cx,cy,w,h). It ignores the
pixels: each of its P = 3 "patches" has a fixed box, and a query's logit for a patch is
    bias[p] + sum over unmasked tokens of (token == CIRCLE) * w_circle[p] + (token == SQUARE) * w_square[p]
with CIRCLE and SQUARE the real CLIP ids of "circle</w>" and "square</w>", so "a photo of a circle" scores
sigmoid(2.2) = 0.90 on patch 0, sigmoid(0.4) = 0.60 on patch 1 (overlapping patch 0: NMS drops it) and
sigmoid(-5) on patch 2, and "a photo of a square" scores sigmoid(2) = 0.88 on patch 2 only.

Run with Debian's python3-onnx: /usr/bin/python3 make_tiny_owlvit.py  (writes onnx/model.onnx and preprocessor_config.json here)
"""
import json, os, sys
# This folder's onnx/ output would shadow the onnx package on a second run.
here = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
import onnx
from onnx import TensorProto, helper

CIRCLE, SQUARE = 7117, 3999

boxes = [0.30, 0.30, 0.40, 0.40,   # patch 0: circle, pixels 6.4..22.4 of a 32 image
         0.32, 0.32, 0.40, 0.40,   # patch 1: the same circle, weaker
         0.75, 0.70, 0.30, 0.40]   # patch 2: square

def const(name, values, dims, dtype=TensorProto.FLOAT):
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, dtype, dims, values))

def ints(name, values, dims=None):
    return const(name, values, [len(values)] if dims is None else dims, TensorProto.INT64)

nodes = [
    ints("circle_id", [CIRCLE], []), ints("square_id", [SQUARE], []),
    const("bias", [-5.0, -5.0, -5.0], [1, 3]), const("w_circle", [7.2, 5.4, 0.0], [1, 3]), const("w_square", [0.0, 0.0, 7.0], [1, 3]),
    const("boxes", boxes, [1, 3, 4]), ints("axis1", [1]),
    helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
    helper.make_node("Equal", ["input_ids", "circle_id"], ["is_circle"]),
    helper.make_node("Equal", ["input_ids", "square_id"], ["is_square"]),
    helper.make_node("Cast", ["is_circle"], ["is_circle_f"], to=TensorProto.FLOAT),
    helper.make_node("Cast", ["is_square"], ["is_square_f"], to=TensorProto.FLOAT),
    helper.make_node("Mul", ["is_circle_f", "mask_f"], ["circle_m"]),
    helper.make_node("Mul", ["is_square_f", "mask_f"], ["square_m"]),
    helper.make_node("ReduceSum", ["circle_m", "axis1"], ["n_circle"], keepdims=1),     # [BQ,1]
    helper.make_node("ReduceSum", ["square_m", "axis1"], ["n_square"], keepdims=1),
    helper.make_node("Mul", ["n_circle", "w_circle"], ["s_circle"]),                        # [BQ,P]
    helper.make_node("Mul", ["n_square", "w_square"], ["s_square"]),
    helper.make_node("Add", ["s_circle", "s_square"], ["s"]),
    helper.make_node("Add", ["s", "bias"], ["bq_p"]),                              # [BQ,P]
    # [BQ,P] -> [B,Q,P] -> [B,P,Q]; B from pixel_values.
    helper.make_node("Shape", ["pixel_values"], ["pv_shape"]),
    ints("zero", [0]), ints("one", [1]),
    helper.make_node("Slice", ["pv_shape", "zero", "one"], ["b"]),
    ints("q_p", [-1, 3]),
    helper.make_node("Concat", ["b", "q_p"], ["bqp_shape"], axis=0),
    helper.make_node("Reshape", ["bq_p", "bqp_shape"], ["b_q_p"]),
    helper.make_node("Transpose", ["b_q_p"], ["logits"], perm=[0, 2, 1]),
    ints("p4", [3, 4]),
    helper.make_node("Concat", ["b", "p4"], ["box_shape"], axis=0),
    helper.make_node("Expand", ["boxes", "box_shape"], ["pred_boxes"]),
]
graph = helper.make_graph(
    nodes, "tiny_owlvit",
    [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["num_queries", 16]),
     helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch_size", 3, 32, 32]),
     helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["num_queries", 16])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "num_patches", "num_queries"]),
     helper.make_tensor_value_info("pred_boxes", TensorProto.FLOAT, ["batch_size", "num_patches", 4])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="make_tiny_owlvit.py")
model.ir_version = 8
onnx.checker.check_model(model)
os.makedirs(os.path.join(here, "onnx"), exist_ok=True)
onnx.save(model, os.path.join(here, "onnx", "model.onnx"))
with open(os.path.join(here, "preprocessor_config.json"), "w") as f:
    json.dump({"image_processor_type": "OwlViTImageProcessor", "size": {"height": 32, "width": 32},
               "do_center_crop": False, "crop_size": {"height": 32, "width": 32}, "resample": 3,
               "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}, f, indent=2)
