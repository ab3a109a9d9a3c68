"""SequenceExample bytes written directly from numpy arrays (REFERENCE.md "Record layout"):
what the dataset TFRecords hold and what every encoder's encode_serialized returns.

Building a SequenceExample through the proto API costs a Python call per step; writing its
bytes with numpy and parsing them back (in C) is ~10x faster and gives the same message.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # Negative int64s are ten-byte two's complement.
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + _varint(len(payload)) + payload


_LABEL_FEATURE_CACHE: dict[int, bytes] = {}


def _label_feature(values: Sequence[int]) -> bytes:
    """FeatureList entry: Feature{int64_list: Int64List{packed values}}."""
    payload = b''.join(_varint(int(v)) for v in values)
    int64_list = _length_delimited(0x0A, payload) if payload else b''
    return _length_delimited(0x0A, _length_delimited(0x1A, int64_list))


def sequence_example_bytes(inputs: np.ndarray, labels: np.ndarray) -> bytes:
    """Serialized SequenceExample with feature lists `inputs` (float rows) and `labels` (ints).

    Parses to the same message as records.make_sequence_example(inputs, labels).
    """
    inputs = np.ascontiguousarray(inputs, dtype='<f4')
    num_steps, width = inputs.shape
    float_list = (b'\x0a' + _varint(4 * width)) if width else b''
    feature_payload_len = len(float_list) + 4 * width
    feature_header = b'\x12' + _varint(feature_payload_len) + float_list
    row_prefix = b'\x0a' + _varint(len(feature_header) + 4 * width) + feature_header
    rows = np.concatenate([
        np.broadcast_to(np.frombuffer(row_prefix, dtype=np.uint8), (num_steps, len(row_prefix))),
        inputs.view(np.uint8).reshape(num_steps, 4 * width)], axis=1)
    inputs_list = rows.tobytes()

    labels = np.asarray(labels)
    if labels.ndim == 1:
        parts = []
        for label in labels.tolist():
            entry = _LABEL_FEATURE_CACHE.get(label)
            if entry is None:
                entry = _label_feature([label])
                if 0 <= label < 4096:
                    _LABEL_FEATURE_CACHE[label] = entry
            parts.append(entry)
        labels_list = b''.join(parts)
    else:
        labels_list = b''.join(_label_feature(row) for row in labels.tolist())

    feature_lists = b''.join(
        _length_delimited(0x0A, _length_delimited(0x0A, name) + _length_delimited(0x12, value))
        for name, value in ((b'inputs', inputs_list), (b'labels', labels_list)))
    return _length_delimited(0x12, feature_lists)


def sequence_example_from_arrays(inputs: np.ndarray, labels: np.ndarray):
    """The SequenceExample proto of `inputs` and `labels` (see sequence_example_bytes)."""
    from magenta_rnn.protobuf import example_pb2
    return example_pb2.SequenceExample.FromString(sequence_example_bytes(inputs, labels))
