"""Melody RNN's commands end to end, as a user runs them, on a tiny collection made here."""
import os
import subprocess
import sys

import pretty_midi
import pytest

from magenta_rnn.music.midi_io import midi_file_to_note_sequence
from magenta_rnn.records import count_records

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = 'batch_size=4,rnn_layer_sizes=[8,8]'


def run(module, *args, check=True):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2')
    result = subprocess.run([sys.executable, '-m', module, *args], env=env,
                            capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f'{module} failed:\n{result.stderr[-3000:]}')
    return result


def write_tune(path, seed):
    """A 12-bar monophonic tune over C major at 120 qpm (eighth notes)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    tune = pretty_midi.Instrument(program=0)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    for i in range(96):
        pitch = scale[(i * (seed + 2) + i // 8) % len(scale)]
        tune.notes.append(pretty_midi.Note(90, pitch, i * 0.25, i * 0.25 + 0.2))
    pm.instruments.append(tune)
    pm.write(str(path))


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp('melody')
    midi_dir = root / 'midi'
    midi_dir.mkdir()
    for seed in range(12):
        write_tune(midi_dir / f'tune{seed}.mid', seed)
    run('magenta_rnn.convert', f'--input_dir={midi_dir}',
        f'--output_file={root / "notesequences.tfrecord"}')
    return root


def test_create_dataset_train_eval_generate_and_bundle(workspace):
    sequence_examples = workspace / 'sequence_examples'
    result = run('magenta_rnn.melody.create_dataset', '--config=attention_rnn',
                 f'--input={workspace / "notesequences.tfrecord"}',
                 f'--output_dir={sequence_examples}', '--eval_ratio=0.25', '--seed=3')
    training = sequence_examples / 'training_melodies.tfrecord'
    evaluation = sequence_examples / 'eval_melodies.tfrecord'
    assert count_records(str(training)) + count_records(str(evaluation)) == 12
    assert count_records(str(evaluation)) >= 1
    assert 'MelodyExtractor_training_melody_lengths_in_bars' in result.stderr

    run_dir = workspace / 'run1'
    result = run('magenta_rnn.melody.train', '--config=attention_rnn', f'--run_dir={run_dir}',
                 f'--sequence_example_file={training}', f'--hparams={TINY}',
                 '--num_training_steps=3', '--summary_frequency=1')
    assert 'Global Step: 3' in result.stderr
    assert any(name.startswith('model.ckpt-3') for name in os.listdir(run_dir / 'train'))

    result = run('magenta_rnn.melody.train', '--config=attention_rnn', f'--run_dir={run_dir}',
                 f'--sequence_example_file={evaluation}', '--hparams=batch_size=1,rnn_layer_sizes=[8,8]',
                 '--eval', '--num_training_steps=3')
    assert os.listdir(run_dir / 'eval')

    output_dir = workspace / 'generated'
    run('magenta_rnn.melody.generate', '--config=attention_rnn', f'--run_dir={run_dir}',
        f'--hparams={TINY}', f'--output_dir={output_dir}', '--num_outputs=3', '--num_steps=32',
        '--primer_melody=[60, -2, 62, -2]', '--seed=5')
    files = sorted(os.listdir(output_dir))
    assert len(files) == 3 and files[0].endswith('_1.mid') and files[2].endswith('_3.mid')
    generated = midi_file_to_note_sequence(str(output_dir / files[0]))
    # 32 sixteenth steps at 120 qpm end at 4 s; the last note may stop before that.
    assert 0.5 < generated.total_time <= 32 * 0.125 + 1e-6
    assert [n.pitch for n in generated.notes[:2]] == [60, 62]

    bundle = workspace / 'melody.mag'
    run('magenta_rnn.melody.generate', '--config=attention_rnn', f'--run_dir={run_dir}',
        f'--hparams={TINY}', f'--bundle_file={bundle}', '--save_generator_bundle',
        '--bundle_description=test bundle')
    bundle_output = workspace / 'from_bundle'
    run('magenta_rnn.melody.generate', f'--bundle_file={bundle}', f'--output_dir={bundle_output}',
        '--num_outputs=2', '--num_steps=16', '--seed=5')
    assert len(os.listdir(bundle_output)) == 2

    result = run('magenta_rnn.melody.generate', f'--bundle_file={bundle}', '--config=basic_rnn',
                 f'--output_dir={bundle_output}', check=False)
    assert result.returncode != 0
    assert "holds a 'attention_rnn' model but --config=basic_rnn" in result.stderr


@pytest.mark.parametrize('args, message', [
    (['--primer_melody=[60, 61'], '--primer_melody: '),
    (['--primer_melody=[60, 200]'], '--primer_melody: 200 is not a melody event'),
    (['--num_outputs=0'], '--num_outputs must be at least 1'),
    (['--config=lookback_rnn'], "no shipped default model for melody_rnn config 'lookback_rnn'"),
])
def test_generate_flag_errors_are_one_line(args, message, tmp_path):
    result = run('magenta_rnn.melody.generate', f'--output_dir={tmp_path}', *args, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert ': error: ' in last and message in last


def test_polyphonic_primer_midi_is_refused(tmp_path, workspace):
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes += [pretty_midi.Note(80, 60, 0, 1), pretty_midi.Note(80, 64, 0, 1)]
    pm.instruments.append(piano)
    pm.write(str(tmp_path / 'chord.mid'))
    bundle = workspace / 'melody.mag'
    if not bundle.exists():
        pytest.skip('needs the bundle of the end-to-end test')
    result = run('magenta_rnn.melody.generate', f'--bundle_file={bundle}',
                 f'--primer_midi={tmp_path / "chord.mid"}', f'--output_dir={tmp_path / "out"}',
                 check=False)
    assert result.returncode != 0
    assert 'is polyphonic' in result.stderr.strip().splitlines()[-1]


def test_create_dataset_with_nothing_extracted_fails_loudly(tmp_path):
    pm = pretty_midi.PrettyMIDI()
    short = pretty_midi.Instrument(program=0)
    short.notes.append(pretty_midi.Note(80, 60, 0, 0.5))
    pm.instruments.append(short)
    (tmp_path / 'midi').mkdir()
    pm.write(str(tmp_path / 'midi' / 'short.mid'))
    run('magenta_rnn.convert', f'--input_dir={tmp_path / "midi"}',
        f'--output_file={tmp_path / "ns.tfrecord"}')
    result = run('magenta_rnn.melody.create_dataset', '--config=basic_rnn',
                 f'--input={tmp_path / "ns.tfrecord"}', f'--output_dir={tmp_path / "out"}',
                 check=False)
    assert result.returncode != 0
    assert 'no examples were extracted from 1 NoteSequences' in result.stderr
    assert 'melodies_discarded_too_short: 1' in result.stderr
    assert not (tmp_path / 'out' / 'training_melodies.tfrecord').exists()


def test_create_dataset_reads_a_glob_of_shards(tmp_path, workspace):
    """--input takes a glob, as the trainers do: shards of the NoteSequences give the
    examples that the single file gives."""
    from magenta_rnn.records import RecordWriter, read_records
    sequences = list(read_records(str(workspace / 'notesequences.tfrecord')))
    for shard in range(3):
        with RecordWriter(str(tmp_path / f'ns-{shard:05d}-of-00003.tfrecord')) as writer:
            for record in sequences[shard::3]:
                writer.write(record)
    outputs = {}
    for name, pattern in (('one', workspace / 'notesequences.tfrecord'),
                          ('glob', tmp_path / 'ns-*-of-00003.tfrecord')):
        run('magenta_rnn.melody.create_dataset', '--config=basic_rnn', f'--input={pattern}',
            f'--output_dir={tmp_path / name}', '--eval_ratio=0')
        outputs[name] = sorted(read_records(str(tmp_path / name / 'training_melodies.tfrecord')))
    assert len(outputs['one']) == 12
    assert outputs['glob'] == outputs['one']
    result = run('magenta_rnn.melody.create_dataset', '--config=basic_rnn',
                 f'--input={tmp_path / "nothing-*.tfrecord"}', f'--output_dir={tmp_path / "x"}',
                 check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].endswith(
            f'--input: no file matches {tmp_path / "nothing-*.tfrecord"}')


def test_melody_encoder_decoder_flag_replaces_config(tmp_path, workspace):
    # --melody_encoder_decoder=lookback encodes exactly as lookback_rnn (REFERENCE.md
    # "Melody RNN configs").
    from magenta_rnn.records import read_records
    outputs = {}
    for flag in ('--config=lookback_rnn', '--melody_encoder_decoder=lookback'):
        out = tmp_path / flag.split('=')[1]
        run('magenta_rnn.melody.create_dataset', flag, f'--input={workspace / "notesequences.tfrecord"}',
            f'--output_dir={out}', '--eval_ratio=0')
        outputs[flag] = sorted(read_records(str(out / 'training_melodies.tfrecord')))
    assert len(outputs['--config=lookback_rnn']) == 12
    assert outputs['--config=lookback_rnn'] == outputs['--melody_encoder_decoder=lookback']

    run_dir = tmp_path / 'run'
    run('magenta_rnn.melody.train', '--melody_encoder_decoder=lookback', f'--run_dir={run_dir}',
        f'--sequence_example_file={tmp_path / "lookback" / "training_melodies.tfrecord"}',
        f'--hparams={TINY}', '--num_training_steps=1')
    run('magenta_rnn.melody.generate', '--melody_encoder_decoder=lookback', f'--run_dir={run_dir}',
        f'--hparams={TINY}', f'--output_dir={tmp_path / "out"}', '--num_outputs=1',
        '--num_steps=16')
    assert len(os.listdir(tmp_path / 'out')) == 1

    both = run('magenta_rnn.melody.train', '--config=basic_rnn', '--melody_encoder_decoder=onehot',
               '--sequence_example_file=x', check=False)
    assert both.stderr.strip().splitlines()[-1].endswith(
        'error: give either --config or --melody_encoder_decoder, not both')
    neither = run('magenta_rnn.melody.train', '--sequence_example_file=x', check=False)
    assert neither.stderr.strip().splitlines()[-1].endswith(
        'error: --config is required (or --melody_encoder_decoder)')


def test_a_primer_as_long_as_the_request_says_how_many_steps_it_takes():
    import magenta_rnn
    from magenta_rnn.rnn.sequence_generator import SequenceGeneratorError

    # Four steps of primer; as in the original, generation starts at step 6 (one step after
    # the last note's end, rounded up), so 6 steps leave nothing to generate.
    with pytest.raises(SequenceGeneratorError) as error:
        magenta_rnn.generate_melodies(primer=[60, -2, -2, -2], num_steps=6, seed=1)
    assert str(error.value) == ('the primer and the gap before generation starts take 6 '
                                'steps, as many as the 6 asked for: ask for more than 6')
    melody, = magenta_rnn.generate_melodies(primer=[60, -2, -2, -2], num_steps=7, seed=1)
    assert melody.notes[0].pitch == 60
