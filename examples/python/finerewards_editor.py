"""Best-of-K from a Python-scripted editor (Krita, GIMP, Blender): the FineRewards host does the work.

Generates the gRPC stubs from protos/ at run time (protoc + grpc_python_plugin, as the host's Python
client test does), runs a job, follows its events (resuming from the last sequence number when the
stream drops), saves the selected candidate as PNG and tells the host the user accepted it.

usage: finerewards_editor.py HOST:PORT "a red circle above a blue square" [--k 4] [--seed 40] [--out best.png]
needs: python3-grpcio python3-protobuf protobuf-compiler-grpc (Debian), or pip grpcio protobuf

In an editor, replace place_as_layer() with its API, e.g.
  Krita:   doc = Krita.instance().activeDocument(); node = doc.createNode(name, "paintlayer");
           node.setPixelData(rgba_bytes, 0, 0, w, h); doc.rootNode().addChildNode(node, None)
  GIMP 3:  layer = Gimp.Layer.new_from_file(image, path) ... image.insert_layer(layer, None, 0)
  Blender: bpy.data.images.load(path) and use it in a material or the compositor
"""
import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load_stubs(proto_root=os.path.join(REPO, "protos")):
    out = tempfile.mkdtemp(prefix="finerewards-stubs-")
    files = [os.path.join("finerewards", "v1", f) for f in sorted(os.listdir(os.path.join(proto_root, "finerewards", "v1")))]
    plugin = subprocess.run(["which", "grpc_python_plugin"], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["protoc", f"-I{proto_root}", f"--python_out={out}", f"--grpc_python_out={out}",
                    f"--plugin=protoc-gen-grpc_python={plugin}"] + files, check=True)
    sys.path.insert(0, out)
    names = ["host_service", "generation_service", "image_service", "feedback_service"]
    return ({n: importlib.import_module(f"finerewards.v1.{n}_pb2") for n in names},
            {n: importlib.import_module(f"finerewards.v1.{n}_pb2_grpc") for n in names})


def place_as_layer(name, png_path):
    print(f"would place {png_path} as layer '{name}' (replace place_as_layer with your editor's API)")


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("address")
    args.add_argument("prompt")
    args.add_argument("--k", type=int, default=4)
    args.add_argument("--seed", type=int, default=None, help="fixed base seed; default: the host draws one")
    args.add_argument("--out", default="best.png")
    args.add_argument("--profile", default="default")
    a = args.parse_args()

    pb, rpc = load_stubs()
    import grpc
    channel = grpc.insecure_channel(a.address)
    host = rpc["host_service"].HostServiceStub(channel)
    jobs = rpc["generation_service"].GenerationServiceStub(channel)
    images = rpc["image_service"].ImageServiceStub(channel)
    feedback = rpc["feedback_service"].FeedbackServiceStub(channel)
    gen = pb["generation_service"]

    caps = host.GetCapabilities(pb["host_service"].GetCapabilitiesRequest(), timeout=5)
    default = next((p for p in caps.packs if p.name == caps.default_pack), None)
    if default is None or default.state != pb["host_service"].PACK_STATE_READY:
        sys.exit(f"host is not ready: pack {caps.default_pack}: {list(default.problems) if default else 'not configured'}")

    job_id = str(uuid.uuid4())  # ours: resubmitting after a timeout can never make a second job
    policy = gen.SEED_POLICY_FIXED if a.seed is not None else gen.SEED_POLICY_RANDOM
    jobs.SubmitGeneration(gen.SubmitGenerationRequest(job_id=job_id, client_id="python-editor", prompt=a.prompt,
                                                      k=a.k, seed_policy=policy, base_seed=a.seed or 0))
    last, ranked, scored, done = 0, None, {}, False
    while not done:
        try:
            for message in jobs.WatchJob(gen.WatchJobRequest(job_id=job_id, after_sequence=last)):
                if message.WhichOneof("message") != "event":
                    continue
                e = message.event
                last = e.sequence
                kind = e.WhichOneof("kind")
                if kind == "progress":
                    print(f"\rstep {e.progress.step}/{e.progress.steps}", end="", flush=True)
                elif kind == "candidate_scored":
                    scored[e.candidate_scored.candidate_index] = e.candidate_scored
                elif kind == "ranked":
                    ranked = e.ranked
                elif kind in ("completed", "failed", "cancelled"):
                    done = True
                    if kind != "completed":
                        sys.exit(f"\njob {kind}: {getattr(e, kind)}")
        except grpc.RpcError as error:  # the stream dropped: resume after the last event seen
            print(f"\nstream lost ({error.code().name}); resuming after event {last}")
            time.sleep(1)
    print()
    for rank, index in enumerate(ranked.order, 1):
        s = scored[index]
        print(f"#{rank} candidate {index}: total {s.total:g} " + ", ".join(f"{r.reward} {r.score:.3f} (rank {r.rank:g})" for r in s.rewards))
    best = scored[ranked.selected]

    with open(a.out, "wb") as f:
        for chunk in images.GetImage(pb["image_service"].GetImageRequest(image_id=best.image_id)):
            f.write(chunk.data)
    place_as_layer(f"{a.prompt} (candidate {ranked.selected})", a.out)
    feedback.SubmitFeedback(pb["feedback_service"].SubmitFeedbackRequest(
        feedback_id=str(uuid.uuid4()), user_id="python-editor", profile_id=a.profile,
        kind=pb["feedback_service"].FEEDBACK_KIND_ACCEPTED, prompt=a.prompt, image_id=best.image_id,
        job_id=job_id, candidate_index=ranked.selected))
    print(f"saved {a.out}; accepted candidate {ranked.selected} as training feedback for profile {a.profile}")


if __name__ == "__main__":
    main()
