"""Seeded MIDI mutants through convert's per-file worker, one process, TensorFlow-free.

  python tests/midi_fuzz.py <seed> <mutants> <results.json> [seed MIDI files...]

Writes {"mutants", "converted", "skipped", "escaped": [...], "vague": [...],
"max_seconds", "max_seconds_file", "max_memory_mb", "reasons": {reason: count}}.
Memory is the growth of this process's peak resident size over its size before the
first mutant, so it is the most any one file made the process grow.
"""
from __future__ import annotations

import collections
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
import traceback

# Reasons that say nothing about the file (what the skip list said before midi_guard).
VAGUE = re.compile(r"<class '|: $|^$|max\(\) arg is an empty|float division by zero"
                   r"|^\w+Error: ?$")


def synthetic_seed() -> bytes:
    """A two-track MIDI file: tempo, time signature, a short melody with a pitch bend."""
    track0 = (b'\x00\xff\x51\x03\x07\xa1\x20' + b'\x00\xff\x58\x04\x04\x02\x18\x08'
              + b'\x00\xff\x2f\x00')
    notes = b''.join(bytes([0x00, 0x90, pitch, 0x50, 0x60, 0x80, pitch, 0x00])
                     for pitch in (60, 62, 64, 65, 67, 69, 71, 72))
    track1 = b'\x00\xc0\x05' + notes + b'\x00\xe0\x00\x40\x00\xff\x2f\x00'
    chunks = b''.join(b'MTrk' + len(t).to_bytes(4, 'big') + t for t in (track0, track1))
    return b'MThd\x00\x00\x00\x06\x00\x01\x00\x02\x00\x60' + chunks


def mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(9)
        pos = rng.randrange(max(1, len(data)))
        if kind == 0:  # flip bits
            data[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:  # random byte
            data[pos] = rng.randrange(256)
        elif kind == 2:  # insert bytes
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 3:  # delete bytes
            del data[pos:pos + rng.randint(1, 16)]
        elif kind == 4:  # truncate
            del data[pos:]
        elif kind == 5:  # a huge delta time where a delta may be
            data[pos:pos] = rng.choice([b'\xff\xff\xff\x7f', b'\x8f\xff\xff\x7f',
                                        b'\x87\xff\xff\x7f', b'\xff\xff\xff\xff\x7f'])
        elif kind == 6 and len(data) >= 14:  # header fields: format, tracks, division
            field = rng.choice([8, 10, 12])
            data[field:field + 2] = rng.choice([b'\x00\x00', b'\xff\xff', b'\x7f\xff',
                                                b'\x80\x00', bytes([0, rng.randrange(256)])])
        elif kind == 7:  # chunk length fields
            for match in re.finditer(rb'MTrk', bytes(data)):
                if rng.random() < 0.5:
                    at = match.end()
                    data[at:at + 4] = rng.randrange(2 ** 32).to_bytes(4, 'big')
        elif kind == 8:  # a tiny tempo or a huge one
            for match in re.finditer(rb'\xff\x51\x03', bytes(data)):
                at = match.end()
                data[at:at + 3] = rng.choice([b'\x00\x00\x00', b'\x00\x00\x01', b'\xff\xff\xff'])
    return bytes(data)


def main() -> None:
    seed, count, results_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    seeds = [open(path, 'rb').read() for path in sys.argv[4:]] or [synthetic_seed()]
    from magenta_rnn import convert

    rng = random.Random(seed)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary = {'mutants': count, 'converted': 0, 'skipped': 0, 'escaped': [], 'vague': [],
               'max_seconds': 0.0, 'max_seconds_file': None, 'max_memory_mb': 0.0}
    reasons: collections.Counter = collections.Counter()
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, 'mutant.mid')
        for index in range(count):
            data = mutate(rng.choice(seeds), rng)
            with open(path, 'wb') as f:
                f.write(data)
            start = time.perf_counter()
            try:
                result = convert.convert_file((path, 'mutant.mid', 'midi', 'fuzz'))
                record, reason = (result.records or None), result.error
            except BaseException as error:
                summary['escaped'].append(f'{index}: {traceback.format_exc()[-800:]}')
                if isinstance(error, KeyboardInterrupt):
                    raise
                continue
            seconds = time.perf_counter() - start
            if seconds > summary['max_seconds']:
                summary['max_seconds'], summary['max_seconds_file'] = seconds, index
            if record is None:
                summary['skipped'] += 1
                reasons[re.sub(r'\d+', 'N', reason or '')] += 1
                if not reason or VAGUE.search(reason):
                    summary['vague'].append(f'{index}: {reason!r}')
            else:
                summary['converted'] += 1
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary['max_memory_mb'] = round((peak_kb - base_kb) / 1024, 1)
    summary['max_seconds'] = round(summary['max_seconds'], 3)
    summary['reasons'] = dict(reasons.most_common(40))
    with open(results_path, 'w') as f:
        json.dump(summary, f, indent=1)


if __name__ == '__main__':
    main()
