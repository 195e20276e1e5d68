"""An editor-side client of the FineRewards host, as a Python plugin would write it.

Generates its stubs from the .proto files at run time (protoc + grpc_python_plugin), then
checks the host's capabilities, uploads an image, runs a best-of-K job while watching its
events, resumes the watch from a sequence number, and downloads the selected candidate.
Prints one JSON line with what it saw.

usage: editor_client.py HOST:PORT PROTO_ROOT
"""
import importlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import uuid
import zlib


def generate_stubs(proto_root):
    out = tempfile.mkdtemp(prefix="finerewards-stubs-")
    protos = [os.path.join("finerewards", "v1", f) for f in sorted(os.listdir(os.path.join(proto_root, "finerewards", "v1")))]
    subprocess.run(["protoc", f"-I{proto_root}", f"--python_out={out}", f"--grpc_python_out={out}",
                    "--plugin=protoc-gen-grpc_python=" + subprocess.run(["which", "grpc_python_plugin"], capture_output=True, text=True, check=True).stdout.strip()]
                   + protos, check=True)
    sys.path.insert(0, out)


def png_bytes(width, height, rgb):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    address, proto_root = sys.argv[1], sys.argv[2]
    generate_stubs(proto_root)
    import grpc
    pb = {n: importlib.import_module(f"finerewards.v1.{n}_pb2") for n in ["host_service", "generation_service", "image_service"]}
    rpc = {n: importlib.import_module(f"finerewards.v1.{n}_pb2_grpc") for n in ["host_service", "generation_service", "image_service"]}
    channel = grpc.insecure_channel(address)
    host = rpc["host_service"].HostServiceStub(channel)
    jobs = rpc["generation_service"].GenerationServiceStub(channel)
    images = rpc["image_service"].ImageServiceStub(channel)
    gen = pb["generation_service"]
    result = {}

    caps = host.GetCapabilities(pb["host_service"].GetCapabilitiesRequest())
    result["protocol_version"] = caps.protocol_version
    result["ready_packs"] = [p.name for p in caps.packs if p.state == pb["host_service"].PACK_STATE_READY]

    png = png_bytes(4, 3, (10, 200, 30))
    put = images.PutImage(iter([pb["image_service"].PutImageRequest(data=png[:20]), pb["image_service"].PutImageRequest(data=png[20:])]))
    result["uploaded"] = {"image_id": put.image_id, "width": put.width, "height": put.height}
    has = images.HasImages(pb["image_service"].HasImagesRequest(image_ids=[put.image_id]))
    result["has_uploaded"] = list(has.present) == [put.image_id]

    job_id = str(uuid.uuid4())
    request = gen.SubmitGenerationRequest(job_id=job_id, client_id="python", prompt="a red square", k=3,
                                          seed_policy=gen.SEED_POLICY_FIXED, base_seed=7, steps=3, width=16, height=16)
    jobs.SubmitGeneration(request)
    try:
        jobs.SubmitGeneration(gen.SubmitGenerationRequest(job_id=str(uuid.uuid4()), prompt="x", k=0))
        result["invalid_k"] = None
    except grpc.RpcError as e:
        result["invalid_k"] = {"code": e.code().name, "field": dict(e.trailing_metadata()).get("finerewards-field")}
    result["resubmit_existing"] = jobs.SubmitGeneration(request).existing

    events = []
    for message in jobs.WatchJob(gen.WatchJobRequest(job_id=job_id)):
        if message.WhichOneof("message") == "event":
            events.append(message.event)
    result["sequences"] = [e.sequence for e in events]
    result["kinds"] = [e.WhichOneof("kind") for e in events]
    ranked = next(e.ranked for e in events if e.WhichOneof("kind") == "ranked")
    result["order"] = list(ranked.order)
    resumed = [m.event.sequence for m in jobs.WatchJob(gen.WatchJobRequest(job_id=job_id, after_sequence=3)) if m.WhichOneof("message") == "event"]
    result["resumed_sequences"] = resumed

    selected = next(e.candidate_ready for e in events if e.WhichOneof("kind") == "candidate_ready" and e.candidate_ready.candidate_index == ranked.selected)
    data = b"".join(c.data for c in images.GetImage(pb["image_service"].GetImageRequest(image_id=selected.image_id)))
    result["selected_png_signature_ok"] = data[:8] == b"\x89PNG\r\n\x1a\n"
    result["selected_has_parameters"] = b"tEXtparameters\x00a red square" in data
    print(json.dumps(result))


if __name__ == "__main__":
    main()
