#!/usr/bin/env bash
# Regenerates Sources/RankdOTLP/otlp_trace_subset.pb.swift from the .proto next to it.
# Needs protoc (apt-get install -y protobuf-compiler) and protoc-gen-swift of swift-protobuf
# 1.39.0 (git clone --branch 1.39.0 https://github.com/apple/swift-protobuf && swift build -c release
# --product protoc-gen-swift; about 2-10 minutes). The generated file is committed, so building rankd
# needs neither.
set -euo pipefail
cd "$(dirname "$0")/.."
PLUGIN=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}
[ -x "$PLUGIN" ] || { echo "set PROTOC_GEN_SWIFT to the protoc-gen-swift binary"; exit 2; }
protoc --plugin=protoc-gen-swift="$PLUGIN" --swift_opt=Visibility=Internal \
  --proto_path=Sources/RankdOTLP/proto --swift_out=Sources/RankdOTLP Sources/RankdOTLP/proto/otlp_trace_subset.proto
echo "wrote Sources/RankdOTLP/otlp_trace_subset.pb.swift"
