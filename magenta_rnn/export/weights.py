"""The TensorFlow.js weights format Magenta.js loads (`tf.io.loadWeights`), written and read
without the tensorflowjs package. TensorFlow-free.

`weights_manifest.json` is `[{"paths": [...], "weights": [{"name", "shape", "dtype",
"quantization"?}]}]`; the shards (`group1-shard{i}of{n}`) are the weights' bytes (little
endian) concatenated in manifest order and cut every 4 MiB. Quantized weights are stored as
uint8 or uint16 `q` with `value = q * scale + min`, the affine scheme of tensorflowjs (whose
range is nudged so that 0.0 is exactly representable).
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np

MANIFEST = 'weights_manifest.json'
SHARD_BYTES = 4 * 1024 * 1024
QUANTIZATION_DTYPES = {1: np.uint8, 2: np.uint16}


def quantize(values: np.ndarray, quantization_bytes: int) -> tuple[np.ndarray, dict]:
    """(quantized array, manifest quantization entry) of float32 `values`."""
    dtype = QUANTIZATION_DTYPES[quantization_bytes]
    low, high = float(values.min()), float(values.max())
    if low == high:
        # A constant: every value is `min` (q = 0).
        return np.zeros(values.shape, dtype), {'dtype': np.dtype(dtype).name, 'min': low,
                                               'scale': 1.0, 'original_dtype': 'float32'}
    levels = np.iinfo(dtype).max
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / levels
    zero_point = round(-low / scale)
    low = -zero_point * scale
    high = levels * scale + low
    quantized = np.round((np.clip(values.astype(np.float64), low, high) - low) / scale)
    return quantized.astype(dtype), {'dtype': np.dtype(dtype).name, 'min': low, 'scale': scale,
                                     'original_dtype': 'float32'}


def dequantize(quantized: np.ndarray, entry: Mapping) -> np.ndarray:
    """What tfjs computes from a quantized weight (float32 arithmetic, as in JavaScript's
    Float32Array: q * scale + min rounded to float32)."""
    return (quantized.astype(np.float64) * entry['scale'] + entry['min']).astype(np.float32)


def write_weights(directory: str, weights: Mapping[str, np.ndarray],
                  quantization_bytes: int | None = None,
                  shard_bytes: int = SHARD_BYTES) -> list[dict]:
    """Writes `weights` (name -> float32 array, in this order) as shards plus the manifest
    into `directory`; returns the manifest. Arrays holding NaN or inf stay float32."""
    if quantization_bytes not in (None, 1, 2):
        raise ValueError(f'quantization_bytes must be 1, 2 or unset (4-byte floats), '
                         f'not {quantization_bytes}')
    entries, blobs = [], []
    for name, value in weights.items():
        value = np.asarray(value, np.float32)
        entry = {'name': name, 'shape': list(value.shape), 'dtype': 'float32'}
        if quantization_bytes and np.isfinite(value).all():
            value, entry['quantization'] = quantize(value, quantization_bytes)
        entries.append(entry)
        blobs.append(value.astype(value.dtype.newbyteorder('<')).tobytes())
    data = b''.join(blobs)
    count = max(1, -(-len(data) // shard_bytes))
    paths = [f'group1-shard{i + 1}of{count}' for i in range(count)]
    for i, path in enumerate(paths):
        with open(os.path.join(directory, path), 'wb') as f:
            f.write(data[i * shard_bytes:(i + 1) * shard_bytes])
    manifest = [{'paths': paths, 'weights': entries}]
    with open(os.path.join(directory, MANIFEST), 'w') as f:
        json.dump(manifest, f, indent=1)
    return manifest


def read_weights(directory: str) -> dict[str, np.ndarray]:
    """The float32 weights of a tfjs weights folder, as tfjs decodes them."""
    with open(os.path.join(directory, MANIFEST)) as f:
        manifest = json.load(f)
    values: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b''
        for path in group['paths']:
            with open(os.path.join(directory, path), 'rb') as f:
                data += f.read()
        offset = 0
        for entry in group['weights']:
            size = int(np.prod(entry['shape'], dtype=np.int64))
            quantization = entry.get('quantization')
            dtype = np.dtype(quantization['dtype'] if quantization else entry['dtype'])
            dtype = dtype.newbyteorder('<')
            raw = np.frombuffer(data, dtype, size, offset).reshape(entry['shape'])
            offset += size * dtype.itemsize
            values[entry['name']] = dequantize(raw, quantization) if quantization else raw.copy()
        if offset != len(data):
            raise ValueError(f'{directory}: the shards hold {len(data)} bytes, the manifest '
                             f'describes {offset}')
    return values
