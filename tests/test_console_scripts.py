"""Every console script of pyproject.toml: `--help` lists its own flags and loads no TensorFlow."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Flags each command's --help must show (the original's, plus ours where noted).
EXPECTED_FLAGS = {
    'convert_dir_to_note_sequences': ['--input_dir', '--output_file', '--[no]recursive', '--log',
                                      '--pipeline_options'],
    'melody_rnn_create_dataset': ['--config', '--input', '--output_dir', '--eval_ratio',
                                  '--pipeline_options'],
    'melody_rnn_train': ['--run_dir', '--sequence_example_file', '--num_training_steps', '--[no]eval',
                         '--warm_start_bundle_file'],
    'melody_rnn_generate': ['--primer_melody', '--primer_midi', '--qpm', '--bundle_file', '--seed',
                            '--[no]continuation_only'],
    'drums_rnn_create_dataset': ['--config', '--input', '--output_dir', '--eval_ratio'],
    'drums_rnn_train': ['--run_dir', '--sequence_example_file', '--hparams', '--[no]eval',
                        '--warm_start_bundle_file'],
    'drums_rnn_generate': ['--primer_drums', '--primer_midi', '--bundle_file', '--beam_size',
                           '--[no]continuation_only'],
    'performance_rnn_create_dataset': ['--config', '--input', '--output_dir', '--eval_ratio',
                                       '--[no]lean_augmentation', '--pipeline_options'],
    'performance_rnn_train': ['--run_dir', '--warm_start_bundle_file', '--[no]eval'],
    'performance_rnn_generate': ['--primer_pitches', '--notes_per_second',
                                 '--pitch_class_histogram', '--disable_conditioning',
                                 '--[no]continuation_only'],
    'music_vae_train': ['--config', '--run_dir', '--mode', '--examples_path', '--num_steps',
                        '--warm_start_checkpoint'],
    'music_vae_preprocess_tfrecord': ['--input_tfrecord', '--output_tfrecord', '--output_shards',
                                      '--config', '--[no]enable_filtering', '--max_total_time',
                                      '--max_num_notes', '--min_velocities',
                                      '--min_metric_positions', '--[no]is_drum',
                                      '--[no]drums_only', '--pipeline_options'],
    'music_vae_generate': ['--mode', '--input_midi_1', '--input_midi_2', '--checkpoint_file'],
    'magenta_bundle': ['--bundle_file', '--output_dir', '--format', '--quantization_bytes',
                       '--run_dir', '--checkpoint_file', '--config'],
}


def console_scripts() -> dict[str, str]:
    """name -> module, from pyproject.toml's [project.scripts]."""
    text = (REPO_ROOT / 'pyproject.toml').read_text()
    section = text.split('[project.scripts]', 1)[1].split('\n[', 1)[0]
    return dict(re.findall(r'^(\w+) = "([\w.]+):console_entry_point"', section, re.MULTILINE))


def test_every_console_script_is_checked():
    assert sorted(console_scripts()) == sorted(EXPECTED_FLAGS)


@pytest.mark.parametrize('name', sorted(EXPECTED_FLAGS))
def test_help_lists_the_flags_without_importing_tensorflow(name):
    module = console_scripts()[name]
    code = (f'import sys; sys.argv = ["{name}", "--help"]\n'
            f'import {module} as command\n'
            'try:\n    command.console_entry_point()\nexcept SystemExit:\n    pass\n'
            'print("TF" if "tensorflow" in sys.modules else "no TF")\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), timeout=120)
    assert result.stdout.strip().endswith('no TF'), result.stdout[-500:] + result.stderr[-500:]
    missing = [flag for flag in EXPECTED_FLAGS[name] if flag not in result.stdout]
    assert not missing, f'{name} --help lacks {missing}'
