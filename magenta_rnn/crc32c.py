"""CRC-32C (Castagnoli), the checksum of TFRecord files, in NumPy; TensorFlow-free.

Writing TFRecords through TensorFlow costs its import (seconds of CPU) in every
process that writes. TFRecord framing needs only CRC-32C, which the standard library
lacks, so it is computed here with table lookups over many slices of the data at once
(each slice 4 bytes per step through two 65536-entry tables), and the slices' CRCs are
then joined pairwise by the linear map that appends a slice's length of zero bytes.
"""
from __future__ import annotations

import struct

import numpy as np

_POLYNOMIAL = 0x82F63B78  # reflected Castagnoli polynomial
_SLICE_BYTES = 64  # bytes per parallel slice
_SMALL = 256  # shorter data: byte at a time


def _byte_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLYNOMIAL), table >> 1)
    return table.astype(np.uint32)


_BYTE_TABLE = _byte_table()
_BYTE_TABLE_LIST = _BYTE_TABLE.tolist()


def _zero_bytes(registers: np.ndarray, count: int) -> np.ndarray:
    """Registers after `count` zero bytes, one byte at a time."""
    for _ in range(count):
        registers = (registers >> np.uint32(8)) ^ _BYTE_TABLE[registers & np.uint32(0xFF)]
    return registers


# Four zero bytes applied to the low and the high 16 bits of a register.
_WORD_LOW = _zero_bytes(np.arange(65536, dtype=np.uint32), 4)
_WORD_HIGH = _zero_bytes(np.arange(65536, dtype=np.uint32) << np.uint32(16), 4)


class _Shift:
    """The linear map 'append n zero bytes' on CRC registers, as four byte tables."""

    def __init__(self, basis_images: np.ndarray):
        self.images = basis_images  # image of each of the 32 single-bit registers
        values = np.arange(256, dtype=np.uint32)
        self.tables = []
        for byte in range(4):
            table = np.zeros(256, np.uint32)
            for bit in range(8):
                table ^= np.where((values >> np.uint32(bit)) & np.uint32(1),
                                  basis_images[8 * byte + bit], np.uint32(0)).astype(np.uint32)
            self.tables.append(table)

    def __call__(self, registers: np.ndarray) -> np.ndarray:
        t0, t1, t2, t3 = self.tables
        return (t0[registers & np.uint32(0xFF)] ^ t1[(registers >> np.uint32(8)) & np.uint32(0xFF)]
                ^ t2[(registers >> np.uint32(16)) & np.uint32(0xFF)]
                ^ t3[registers >> np.uint32(24)])


_BASIS = np.uint32(1) << np.arange(32, dtype=np.uint32)
_shifts: list[_Shift] = []  # _shifts[k]: append _SLICE_BYTES * 2**k zero bytes


def _shift(level: int) -> _Shift:
    while len(_shifts) <= level:
        if not _shifts:
            _shifts.append(_Shift(_zero_bytes(_BASIS.copy(), _SLICE_BYTES)))
        else:
            previous = _shifts[-1]
            _shifts.append(_Shift(previous(previous.images)))
    return _shifts[level]


def _update_bytes(register: int, data: bytes) -> int:
    table = _BYTE_TABLE_LIST
    for byte in data:
        register = (register >> 8) ^ table[(register ^ byte) & 0xFF]
    return register


def crc32c(data: bytes) -> int:
    """The CRC-32C of `data` (crc32c(b'123456789') == 0xE3069283)."""
    register = 0xFFFFFFFF
    head = len(data) % _SLICE_BYTES if len(data) >= _SMALL else len(data)
    register = _update_bytes(register, data[:head])
    if head == len(data):
        return register ^ 0xFFFFFFFF
    words = np.frombuffer(data, '<u4', offset=head).reshape(-1, _SLICE_BYTES // 4).T.copy()
    registers = np.zeros(words.shape[1], np.uint32)
    registers[0] = register
    low_mask = np.uint32(0xFFFF)
    sixteen = np.uint32(16)
    for column in words:
        mixed = registers ^ column
        registers = _WORD_LOW[mixed & low_mask] ^ _WORD_HIGH[mixed >> sixteen]
    # Join neighbours: CRC(a + b) = shift_len(b)(CRC(a)) ^ CRC(b) for these raw registers.
    level = 0
    while len(registers) > 1:
        if len(registers) % 2:
            registers = np.concatenate([np.zeros(1, np.uint32), registers])
        registers = _shift(level)(registers[0::2]) ^ registers[1::2]
        level += 1
    return int(registers[0]) ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked checksum: the CRC rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frame(record: bytes) -> bytes:
    """One record as a TFRecord file stores it: length, its checksum, data, its checksum."""
    length = struct.pack('<Q', len(record))
    return b''.join((length, struct.pack('<I', masked_crc32c(length)), record,
                     struct.pack('<I', masked_crc32c(record))))
