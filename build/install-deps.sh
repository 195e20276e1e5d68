#!/usr/bin/env bash
# Debian packages the tests need beyond the .NET SDK: the Python gRPC client test generates
# stubs from protos/ with grpc_python_plugin and talks to the host with python3-grpcio, as an
# editor-side script would. protoc finds the well-known types the protos import
# (google/protobuf/timestamp.proto) in /usr/include, which only libprotobuf-dev installs.
# postgresql: tests/postgres/pg-start.sh runs its server binaries for the cluster store's tests.
# Installs only what is missing; needs root (or sudo) to install.
set -euo pipefail
packages=(python3 python3-grpcio python3-protobuf protobuf-compiler-grpc libprotobuf-dev postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "build/install-deps.sh: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
