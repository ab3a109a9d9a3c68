"""The streaming create_dataset runner and the shared NoteSequence stages."""
import functools

import pytest

import builders
from magenta_rnn.pipelines.dataset import NothingExtractedError, run_dataset_pipeline
from magenta_rnn.pipelines.stages import Chain, FunctionStage, Quantizer, Stage, Transposer
from magenta_rnn.records import RecordWriter, read_records

NAMES = {'eval': 'eval_things', 'training': 'training_things'}


def _sequence(pitches, name='x'):
    return builders.melody(pitches, velocity=80, time_signature=None, filename=name)


class PitchesOut(Stage):
    """Emits one record per note: its pitch as bytes; counts notes above 70."""

    def transform(self, item):
        high = sum(note.pitch > 70 for note in item.notes)
        if high:
            self.count('high_notes', high)
        return [bytes([note.pitch]) for note in item.notes]


def pitches_chain(mode):
    return Chain([Transposer(f'Transposer_{mode}', (0, 12), max_pitch=80),
                  PitchesOut(f'PitchesOut_{mode}')])


@pytest.fixture
def input_file(tmp_path):
    path = str(tmp_path / 'ns.tfrecord')
    with RecordWriter(path) as writer:
        writer.write(_sequence([60, 62], 'a'))
        writer.write(_sequence([70], 'b'))
    return path


@pytest.mark.parametrize('workers', [1, 2])
def test_outputs_and_stats(tmp_path, input_file, workers):
    summary = run_dataset_pipeline(input_file, str(tmp_path / 'out'), NAMES, pitches_chain,
                                   eval_ratio=0.0, workers=workers)
    training = sorted(read_records(summary.paths['training_things']))
    # a: 60,62 and +12 -> 72,74; b: 70 and 82 is out of range (max 80) so only 70.
    assert training == sorted([bytes([60]), bytes([62]), bytes([72]), bytes([74]), bytes([70])])
    assert list(read_records(summary.paths['eval_things'])) == []
    assert summary.inputs == 2 and summary.outputs == {'eval_things': 0, 'training_things': 5}
    counts = {name: stat.count for name, stat in summary.stats.items()}
    assert counts == {'RandomPartition_training_things_count': 2,
                      'Transposer_training_transpositions_generated': 3,
                      'Transposer_training_skipped_due_to_range_exceeded': 1,
                      'PitchesOut_training_high_notes': 2}


def test_eval_ratio_one_sends_everything_to_eval(tmp_path, input_file):
    summary = run_dataset_pipeline(input_file, str(tmp_path), NAMES, pitches_chain,
                                   eval_ratio=1.0, workers=1)
    assert summary.outputs == {'eval_things': 5, 'training_things': 0}


def test_nothing_extracted_is_an_error_and_writes_nothing(tmp_path, input_file):
    chain = functools.partial(lambda mode: Chain([FunctionStage('Drop', lambda item: [])]))
    with pytest.raises(NothingExtractedError, match='no examples were extracted from 2'):
        run_dataset_pipeline(input_file, str(tmp_path / 'out'), NAMES, chain, workers=1)
    assert not (tmp_path / 'out' / 'training_things.tfrecord').exists()


def test_bad_arguments(tmp_path, input_file):
    with pytest.raises(ValueError, match='--eval_ratio must be between 0 and 1'):
        run_dataset_pipeline(input_file, str(tmp_path), NAMES, pitches_chain, eval_ratio=1.5)
    with pytest.raises(FileNotFoundError, match='--input: no such file'):
        run_dataset_pipeline(str(tmp_path / 'none'), str(tmp_path), NAMES, pitches_chain)


def test_input_glob_reads_every_shard_in_name_order(tmp_path):
    """Sharded input (as written on Beam) gives what one file with the same records in
    the same order gives, split included."""
    sequences = [_sequence([60 + i, 62 + i], f's{i}') for i in range(6)]
    with RecordWriter(str(tmp_path / 'all.tfrecord')) as writer:
        for sequence in sequences:
            writer.write(sequence)
    for shard in range(3):
        with RecordWriter(str(tmp_path / f'ns-{shard:05d}-of-00003.tfrecord')) as writer:
            for sequence in sequences[2 * shard:2 * shard + 2]:
                writer.write(sequence)
    outputs = {}
    for name, pattern in (('one', 'all.tfrecord'), ('glob', 'ns-*-of-00003.tfrecord')):
        summary = run_dataset_pipeline(str(tmp_path / pattern), str(tmp_path / name), NAMES,
                                       pitches_chain, eval_ratio=0.5, seed=7, workers=1)
        assert summary.inputs == 6
        outputs[name] = {mode: list(read_records(path)) for mode, path in summary.paths.items()}
    assert outputs['glob'] == outputs['one']
    assert outputs['one']['eval_things'] and outputs['one']['training_things']
    with pytest.raises(FileNotFoundError, match='--input: no file matches .*nothing-\\*'):
        run_dataset_pipeline(str(tmp_path / 'nothing-*'), str(tmp_path), NAMES, pitches_chain)


def test_quantizer_counts_what_it_drops():
    quantizer = Quantizer('Quantizer_training', steps_per_quarter=4)
    two_tempos = _sequence([60, 62])
    two_tempos.tempos.add(time=0.5, qpm=90)
    assert quantizer.transform(two_tempos) == []
    assert [(s.name, s.count) for s in quantizer.take_stats()] == [
        ('Quantizer_training_sequences_discarded_because_multiple_tempos', 1)]
    quantized, = quantizer.transform(_sequence([60, 62]))
    assert [n.quantized_start_step for n in quantized.notes] == [0, 4]
    with pytest.raises(ValueError, match='exactly one of'):
        Quantizer('q')
