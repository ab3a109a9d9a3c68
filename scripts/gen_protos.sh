#!/usr/bin/env bash
# Regenerate magenta_rnn/protobuf/*_pb2.py from protos/*.proto.
# Uses grpcio-tools==1.74.0 (protoc 31.1): its gencode needs protobuf >= 6.31.1 at run time,
# the same floor as TensorFlow 2.21, which pyproject.toml requires.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m grpc_tools.protoc --proto_path=protos --python_out=magenta_rnn/protobuf protos/music.proto protos/generator.proto protos/example.proto
# protoc writes `import music_pb2`; make it a package-relative import.
sed -i 's/^import music_pb2 as music__pb2/from . import music_pb2 as music__pb2/' magenta_rnn/protobuf/*_pb2.py
python -m grpc_tools.protoc --version
