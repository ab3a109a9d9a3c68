"""`.mag` GeneratorBundle files: one serialized GeneratorBundle, no framing (REFERENCE.md
"Bundle files")."""
from __future__ import annotations

from pathlib import Path

import pytest

from magenta_rnn.rnn.bundle import (GeneratorBundleParseError, make_bundle, read_bundle,
                                    write_bundle)

BUNDLES = Path(__file__).resolve().parents[1].parent / 'shared' / 'bundles'


def test_round_trip_and_wire_layout(tmp_path):
    bundle = make_bundle('attention_rnn', b'CKPT', b'META', 'Melody RNN', 'my run')
    path = tmp_path / 'out' / 'model.mag'
    write_bundle(path, bundle)
    data = path.read_bytes()
    # 1 generator_details {1 id, 2 description}, 2 checkpoint_file, 3 metagraph, 4 bundle_details.
    assert data == (b'\x0a\x1b\x0a\x0dattention_rnn\x12\x0aMelody RNN'
                    b'\x12\x04CKPT\x1a\x04META\x22\x08\x0a\x06my run')
    again = read_bundle(path)
    assert again == bundle
    assert list(again.checkpoint_file) == [b'CKPT']
    assert again.bundle_details.description == 'my run'
    assert [p.name for p in path.parent.iterdir()] == ['model.mag']  # no temp file left


def test_write_replaces_existing_file(tmp_path):
    path = tmp_path / 'model.mag'
    path.write_bytes(b'old')
    write_bundle(path, make_bundle('basic_rnn', b'x'))
    assert read_bundle(path).generator_details.id == 'basic_rnn'


def test_write_requires_an_id(tmp_path):
    with pytest.raises(ValueError, match='generator_details.id is empty'):
        write_bundle(tmp_path / 'a.mag', make_bundle('', b'x'))
    assert not (tmp_path / 'a.mag').exists()


@pytest.mark.parametrize('content,reason', [
    (b'\xff\xff\xff\xff', 'does not parse'),       # invalid wire data
    (b'', 'no generator_details.id'),              # parses as an empty message
    (b'MThd\x00\x00\x00\x06', 'not a generator bundle'),  # a MIDI header
    (b'\x0a\x05\x0a\x03abc', 'no checkpoint_file'),  # details only
])
def test_read_rejects_non_bundles(tmp_path, content, reason):
    path = tmp_path / 'song.mid'
    path.write_bytes(content)
    with pytest.raises(GeneratorBundleParseError, match=reason) as error:
        read_bundle(path)
    assert str(path) in str(error.value)


def test_read_missing_file(tmp_path):
    with pytest.raises(GeneratorBundleParseError, match='cannot read bundle file'):
        read_bundle(tmp_path / 'missing.mag')


def test_reads_original_bundle():
    path = BUNDLES / 'mugen_attention_rnn' / 'checkpoints' / 'attention_rrn.mag'
    if not path.exists():
        pytest.skip(f'{path} is not present')
    bundle = read_bundle(path)
    assert bundle.generator_details.id == 'attention_rnn'
    assert len(bundle.checkpoint_file) == 1 and len(bundle.metagraph_file) == 128045
