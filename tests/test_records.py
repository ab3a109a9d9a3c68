import os

import pytest
import tensorflow as tf

import builders
from magenta_rnn.records import (RecordWriter, count_records, make_sequence_example,
                                 read_note_sequences, read_records, write_records)


def _sequence(i):
    return builders.note_sequence([(60 + i, 80, 0.0, 1.0)], qpm=None, time_signature=None,
                                  sequence_id=f'/id/midi/c/{i}')


@pytest.mark.parametrize('use_gzip', [False, True])
def test_note_sequences_round_trip(tmp_path, use_gzip):
    path = str(tmp_path / 'sub' / 'ns.tfrecord')
    with RecordWriter(path, gzip=use_gzip) as writer:
        for i in range(3):
            writer.write(_sequence(i))
    assert writer.count == 3
    with open(path, 'rb') as f:
        assert (f.read(2) == b'\x1f\x8b') == use_gzip
    assert [ns.notes[0].pitch for ns in read_note_sequences(path)] == [60, 61, 62]
    assert count_records(path) == 3
    assert os.listdir(tmp_path / 'sub') == ['ns.tfrecord']


def test_tensorflow_reads_our_records(tmp_path):
    path = str(tmp_path / 'x.tfrecord')
    records = [b'abc', b'', b'\x00' * 1000, bytes(range(256)) * 300]
    write_records(path, records)
    assert [r.numpy() for r in tf.data.TFRecordDataset(path)] == records
    # TensorFlow checks the checksums: one flipped bit in the last record's data is refused.
    with open(path, 'r+b') as f:
        f.seek(-10, 2)
        byte = f.read(1)
        f.seek(-10, 2)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(tf.errors.DataLossError, match='corrupted record'):
        list(tf.data.TFRecordDataset(path))


def test_gzip_records_are_tensorflows_gzip(tmp_path):
    path = str(tmp_path / 'x.tfrecord.gz')
    write_records(path, [b'abc', b'de'], gzip=True)
    dataset = tf.data.TFRecordDataset(path, compression_type='GZIP')
    assert [r.numpy() for r in dataset] == [b'abc', b'de']


def test_failed_write_leaves_previous_file_untouched(tmp_path):
    path = str(tmp_path / 'out.tfrecord')
    write_records(path, [b'old'])
    with pytest.raises(RuntimeError):
        with RecordWriter(path) as writer:
            writer.write(b'new')
            raise RuntimeError('interrupted')
    assert list(read_records(path)) == [b'old']
    assert os.listdir(tmp_path) == ['out.tfrecord']


def test_failed_write_removes_the_folders_it_made(tmp_path):
    (tmp_path / 'kept').mkdir()
    (tmp_path / 'kept' / 'other.txt').write_text('not ours')
    for path in (tmp_path / 'new' / 'deeper' / 'out.tfrecord', tmp_path / 'kept' / 'out.tfrecord'):
        with pytest.raises(RuntimeError):
            with RecordWriter(str(path)) as writer:
                writer.write(b'new')
                raise RuntimeError('interrupted')
    assert sorted(os.listdir(tmp_path)) == ['kept']
    assert os.listdir(tmp_path / 'kept') == ['other.txt']


def test_missing_file_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.tfrecord: no such TFRecord file'):
        list(read_records(str(tmp_path / 'nope.tfrecord')))


def test_sequence_example_layout_matches_tensorflow():
    example = make_sequence_example([[0.0, 1.0], [1.0, 0.0]], [1, 0])
    parsed = tf.train.SequenceExample.FromString(example.SerializeToString())
    lists = parsed.feature_lists.feature_list
    assert [list(f.float_list.value) for f in lists['inputs'].feature] == [[0.0, 1.0], [1.0, 0.0]]
    assert [list(f.int64_list.value) for f in lists['labels'].feature] == [[1], [0]]
    assert not parsed.context.feature


def test_multi_value_labels():
    example = make_sequence_example([[0.5]], [(0, 0, 60, 0, 0, 0)])
    labels = example.feature_lists.feature_list['labels']
    assert list(labels.feature[0].int64_list.value) == [0, 0, 60, 0, 0, 0]


def test_writers_that_share_a_new_folder_remove_it_whichever_fails_last(tmp_path):
    """Two shards in one new folder: the first writer to fail cannot remove the folder
    (the other's temporary file is in it); the last one does, in either order."""
    (tmp_path / 'kept').mkdir()
    made_by_hand = tmp_path / 'kept' / 'empty_but_the_users'
    made_by_hand.mkdir()
    for order in ((0, 1), (1, 0)):
        writers = [RecordWriter(str(tmp_path / 'new' / 'sub' / f'out-{i}')) for i in range(2)]
        for writer in writers:
            writer.write(b'x')
        writers[order[0]].abort()
        remaining, = os.listdir(tmp_path / 'new' / 'sub')
        assert remaining.startswith(f'out-{order[1]}.') and remaining.endswith('.tmp')
        writers[order[1]].abort()
        assert sorted(os.listdir(tmp_path)) == ['kept']
        assert os.listdir(tmp_path / 'kept') == ['empty_but_the_users']
