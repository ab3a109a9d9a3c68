"""Attribute vectors for MusicVAE latent codes (no TensorFlow here).

An attribute is a number measured on a NoteSequence, such as its note density.
Its attribute vector is the mean latent code (mu) of the examples where the
attribute is high (top quantile) minus the mean code of those where it is low
(bottom quantile). Adding k times the vector to a sequence's code and decoding
moves the attribute up (k > 0) or down (k < 0):

    vector = trained_model.attribute_vector(note_sequences, 'note_density')
    save_attribute_vector('note_density.npy', vector)
    outputs = trained_model.apply_attribute_vector(vector, [-2, 0, 2], note_sequence=ns)

Attributes (NOTE_ATTRIBUTES):
  note_density    notes (onsets) per second over the sequence's total_time
  mean_pitch      mean MIDI pitch of the notes
  pitch_range     highest minus lowest pitch, in semitones
  mean_interval   mean absolute pitch step between consecutive onsets, in semitones
  mean_duration   mean note length in quarter notes (at the first tempo; 120 qpm if none)
Drum notes are left out. A sequence without notes has note_density 0 and no value
(NaN) for the others; NaN examples are skipped when a vector is computed.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.protobuf import music_pb2

MIN_EXAMPLES = 8          # fewer cannot give two meaningful groups
DEFAULT_QUANTILE = 0.25   # top and bottom quarters


class AttributeVectorError(ValueError):
    """Bad attribute name, too few examples, or an unreadable vector file."""


def _pitched_notes(ns: music_pb2.NoteSequence) -> list:
    return sorted((n for n in ns.notes if not n.is_drum), key=lambda n: (n.start_time, n.pitch))


def note_density(ns: music_pb2.NoteSequence) -> float:
    notes = _pitched_notes(ns)
    duration = max([ns.total_time] + [n.end_time for n in notes])
    return len(notes) / duration if duration > 0 else 0.0


def mean_pitch(ns: music_pb2.NoteSequence) -> float:
    notes = _pitched_notes(ns)
    return float(np.mean([n.pitch for n in notes])) if notes else float('nan')


def pitch_range(ns: music_pb2.NoteSequence) -> float:
    pitches = [n.pitch for n in _pitched_notes(ns)]
    return float(max(pitches) - min(pitches)) if pitches else float('nan')


def mean_interval(ns: music_pb2.NoteSequence) -> float:
    pitches = [n.pitch for n in _pitched_notes(ns)]
    if len(pitches) < 2:
        return float('nan')
    return float(np.mean(np.abs(np.diff(pitches))))


def mean_duration(ns: music_pb2.NoteSequence) -> float:
    notes = _pitched_notes(ns)
    if not notes:
        return float('nan')
    qpm = ns.tempos[0].qpm if ns.tempos else constants.DEFAULT_QUARTERS_PER_MINUTE
    return float(np.mean([n.end_time - n.start_time for n in notes]) * qpm / 60.0)


NOTE_ATTRIBUTES: dict[str, Callable[[music_pb2.NoteSequence], float]] = {
    'note_density': note_density,
    'mean_pitch': mean_pitch,
    'pitch_range': pitch_range,
    'mean_interval': mean_interval,
    'mean_duration': mean_duration,
}


def check_attribute_name(name: str) -> str:
    if name not in NOTE_ATTRIBUTES:
        raise AttributeVectorError(f'unknown attribute {name!r}; choose one of '
                                   f'{", ".join(NOTE_ATTRIBUTES)}')
    return name


def measure(note_sequences: Sequence[music_pb2.NoteSequence], name: str) -> np.ndarray:
    """The attribute of each NoteSequence, float64 [n] (NaN where undefined)."""
    function = NOTE_ATTRIBUTES[check_attribute_name(name)]
    return np.array([function(ns) for ns in note_sequences], np.float64)


@dataclasses.dataclass
class AttributeVector:
    """A latent direction for one attribute and the statistics it came from."""
    attribute: str
    vector: np.ndarray         # [z_size] float32: mean mu (high) - mean mu (low)
    config: str = ''
    num_examples: int = 0      # examples with a defined attribute value
    num_high: int = 0
    num_low: int = 0
    high_mean: float = 0.0     # mean attribute value of each group
    low_mean: float = 0.0


def compute_attribute_vector(latents: np.ndarray, values: np.ndarray, attribute: str,
                             quantile: float = DEFAULT_QUANTILE, config: str = '',
                             min_examples: int = MIN_EXAMPLES) -> AttributeVector:
    """mean(latents where value >= the (1 - quantile) quantile)
    - mean(latents where value <= the quantile quantile); NaN values are skipped."""
    check_attribute_name(attribute)
    if not 0 < quantile <= 0.5:
        raise AttributeVectorError(f'quantile must be in (0, 0.5], got {quantile}')
    latents = np.asarray(latents, np.float64)
    values = np.asarray(values, np.float64)
    defined = ~np.isnan(values)
    latents, values = latents[defined], values[defined]
    if len(values) < min_examples:
        raise AttributeVectorError(f'too few examples for an attribute vector: {len(values)} '
                                   f'with a defined {attribute}, need at least {min_examples}')
    low_limit, high_limit = np.quantile(values, [quantile, 1.0 - quantile])
    # With quantile 0.5 both limits are the median: above-median minus below-median.
    high, low = values >= high_limit, values <= low_limit
    if not values[high].mean() > values[low].mean():
        raise AttributeVectorError(f'{attribute} hardly varies over the {len(values)} examples '
                                   f'(from {values.min():g} to {values.max():g}); use more '
                                   f'varied examples')
    return AttributeVector(
        attribute=attribute,
        vector=(latents[high].mean(axis=0) - latents[low].mean(axis=0)).astype(np.float32),
        config=config, num_examples=len(values), num_high=int(high.sum()),
        num_low=int(low.sum()), high_mean=float(values[high].mean()),
        low_mean=float(values[low].mean()))


def _record_dtype(vector: AttributeVector) -> np.dtype:
    # String fields as wide as their values (a config may be a long .json path).
    return np.dtype([('attribute', f'U{max(1, len(vector.attribute))}'),
                     ('config', f'U{max(1, len(vector.config))}'),
                     ('vector', np.float32, (len(vector.vector),)),
                     ('num_examples', np.int64), ('num_high', np.int64), ('num_low', np.int64),
                     ('high_mean', np.float64), ('low_mean', np.float64)])


def save_attribute_vector(path: str, vector: AttributeVector) -> None:
    """One .npy record holding the vector, its attribute and config names and statistics
    (readable with np.load, no pickle)."""
    record = np.zeros((), _record_dtype(vector))
    for field in record.dtype.names:
        record[field] = getattr(vector, field)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    partial = f'{path}.part'
    with open(partial, 'wb') as f:   # np.save(path) would append .npy to other names
        np.save(f, record, allow_pickle=False)
    os.replace(partial, path)  # a reader never sees a half-written file


def load_attribute_vector(path: str) -> AttributeVector:
    try:
        record = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise AttributeVectorError(f'{path}: cannot read an attribute vector ({e})') from None
    names = record.dtype.names or ()
    if record.shape != () or 'vector' not in names or 'attribute' not in names:
        raise AttributeVectorError(f'{path}: not an attribute vector file (save one with '
                                   f'--attribute_examples and --attribute_vector_file)')
    return AttributeVector(**{field: (record[field].item() if field != 'vector'
                                      else np.array(record[field], np.float32))
                              for field in names})
