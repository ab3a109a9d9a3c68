"""CRC-32C and TFRecord framing without TensorFlow."""
import random
import struct

import pytest

from magenta_rnn import crc32c


def bitwise_crc32c(data: bytes) -> int:
    """The definition: reflected polynomial 0x82F63B78, one bit at a time."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@pytest.mark.parametrize('data, expected', [
    (b'', 0x00000000),
    (b'123456789', 0xE3069283),
    (bytes(32), 0x8A9136AA),  # RFC 3720, B.4
    (b'\xff' * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
])
def test_known_values(data, expected):
    assert crc32c.crc32c(data) == expected


@pytest.mark.parametrize('length', [255, 256, 257, 319, 320, 4096, 4097, 10_007, 70_001])
def test_sliced_computation_matches_the_definition(length):
    # Around the switch to slices (256 bytes), slice multiples (64) and odd slice counts.
    data = random.Random(length).randbytes(length)
    assert crc32c.crc32c(data) == bitwise_crc32c(data)


def test_tfrecord_frame_layout():
    framed = crc32c.tfrecord_frame(b'abc')
    length = struct.pack('<Q', 3)
    assert framed[:8] == length
    assert framed[8:12] == struct.pack('<I', crc32c.masked_crc32c(length))
    assert framed[12:15] == b'abc'
    masked = (((0x364B3FB7 >> 15) | (0x364B3FB7 << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    assert crc32c.crc32c(b'abc') == 0x364B3FB7
    assert framed[15:] == struct.pack('<I', masked)
