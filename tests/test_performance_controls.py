"""Performance control signals: NoteDensity and PitchHistogram (REFERENCE.md
"Conditioning and control signals").

Cases ported from note_seq's performance_controls_test, plus a check of the
vectorised extraction against a direct per-event loop over the rules of REFERENCE.md
"Conditioning and control signals".
"""
import random

import numpy as np

import builders
from magenta_rnn.music.performance_controls import (NoteDensityPerformanceControlSignal,
                                                    PitchHistogramPerformanceControlSignal,
                                                    extract_controls, note_density_signal,
                                                    pitch_histogram_signal)
from magenta_rnn.music.performances import PerformanceEvent

pe = PerformanceEvent
ON, OFF, SHIFT, VEL = pe.NOTE_ON, pe.NOTE_OFF, pe.TIME_SHIFT, pe.VELOCITY

EVENTS = [(ON, 60), (ON, 64), (ON, 67), (SHIFT, 50), (OFF, 60), (OFF, 64), (SHIFT, 25),
          (OFF, 67), (ON, 64), (SHIFT, 25), (OFF, 64)]


def test_note_density_extract():
    control = NoteDensityPerformanceControlSignal(window_size_seconds=1.0,
                                                  density_bin_ranges=[1.0, 5.0])
    # Recomputed at event 0 and after each TIME_SHIFT: 4 onsets in 1 s, then 1 onset in
    # the remaining 0.5 s, then 1 in 0.25 s, then nothing scanned.
    assert control.extract(builders.performance(EVENTS)) == [
        4.0, 4.0, 4.0, 4.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 0.0]
    assert control.extract(builders.performance([])) == []


def test_note_density_encoder():
    control = NoteDensityPerformanceControlSignal(window_size_seconds=1.0,
                                                  density_bin_ranges=[1.0, 5.0])
    densities = [0.0, 0.5, 1.0, 2.0, 5.0, 10.0]
    expected = [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0],
                [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
    assert [control.encoder.events_to_input(densities, i) for i in range(6)] == expected
    assert control.encoder.events_to_inputs(densities).tolist() == expected


def test_note_density_default_bins():
    control = note_density_signal()
    assert control.name == 'notes_per_second' and control.default_value == 15.0
    assert control.encoder.input_size == 8
    one_hot = control.encoder.one_hot_encoding
    # [0,1) [1,2) [2,4) [4,8) [8,16) [16,32) [32,64) [64,inf); a bin decodes to its lower edge.
    assert one_hot.encode_events([0.0, 0.99, 1.0, 3.9, 15.0, 16.0, 63.9, 64.0, 1e6]).tolist() == \
        [0, 0, 1, 2, 4, 5, 6, 7, 7]
    assert [one_hot.decode_event(i) for i in range(8)] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0,
                                                           32.0, 64.0]
    assert control.validate(3.5) and not control.validate(-1.0)


def test_pitch_histogram_extract():
    control = PitchHistogramPerformanceControlSignal(window_size_seconds=1.0, prior_count=0)
    assert control.extract(builders.performance(EVENTS)) == [
        [0.5, 0, 0, 0, 0.75, 0, 0, 0.75, 0, 0, 0, 0],
        [0.5, 0, 0, 0, 0.75, 0, 0, 0.75, 0, 0, 0, 0],
        [0.5, 0, 0, 0, 0.75, 0, 0, 0.75, 0, 0, 0, 0],
        [0.5, 0, 0, 0, 0.75, 0, 0, 0.75, 0, 0, 0, 0],
        [0, 0, 0, 0, 0.25, 0, 0, 0.25, 0, 0, 0, 0],
        [0, 0, 0, 0, 0.25, 0, 0, 0.25, 0, 0, 0, 0],
        [0, 0, 0, 0, 0.25, 0, 0, 0.25, 0, 0, 0, 0],
        [0, 0, 0, 0, 0.25, 0, 0, 0.0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0.25, 0, 0, 0.0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0.25, 0, 0, 0.0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]


def test_pitch_histogram_counts_octaves_of_a_class_separately_and_adds_the_prior():
    control = PitchHistogramPerformanceControlSignal(window_size_seconds=5.0)
    histograms = control.extract(
        builders.performance([(ON, 48), (ON, 60), (SHIFT, 100), (OFF, 48)]))
    assert histograms[0][0] == 0.01 + 1.0 + 1.0  # two sounding Cs, one second each
    assert histograms[0][1:] == [0.01] * 11
    assert histograms[2] is histograms[0]  # the shift itself reuses the value before it
    assert histograms[3] == [0.01] * 12  # recomputed after the shift: no time left


def test_pitch_histogram_encoder_normalises():
    control = PitchHistogramPerformanceControlSignal(window_size_seconds=1.0, prior_count=0)
    histograms = [[0.5, 0, 0, 0, 0.75, 0, 0, 0.75, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0.25, 0, 0, 0.25, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0.25, 0, 0, 0.0, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]
    expected = [[0.25, 0, 0, 0, 0.375, 0, 0, 0.375, 0, 0, 0, 0],
                [0.0, 0, 0, 0, 0.5, 0, 0, 0.5, 0, 0, 0, 0],
                [0.0, 0, 0, 0, 1.0, 0, 0, 0.0, 0, 0, 0, 0],
                [np.float32(1.0 / 12.0)] * 12]
    assert control.encoder.events_to_inputs(histograms).tolist() == expected
    assert control.encoder.input_size == 12
    signal = pitch_histogram_signal()
    assert signal.name == 'pitch_class_histogram' and signal.default_value == [1.0] * 12


def test_extract_controls_zips_one_tuple_per_event():
    signals = [NoteDensityPerformanceControlSignal(1.0, [1.0, 5.0]),
               PitchHistogramPerformanceControlSignal(1.0, prior_count=0)]
    controls = extract_controls(signals, builders.performance(EVENTS))
    assert len(controls) == len(EVENTS)
    assert controls[4] == (2.0, [0, 0, 0, 0, 0.25, 0, 0, 0.25, 0, 0, 0, 0])


# The vectorised extraction against the rules read directly.

def reference_density(events, window_seconds, steps_per_second):
    window = int(round(window_seconds * steps_per_second))
    result, previous_type, previous = [], None, 0.0
    for i, (event_type, _) in enumerate(events):
        if previous_type is not None and previous_type != SHIFT:
            result.append(previous)
            previous_type = event_type
            continue
        j, offset, count = i, 0, 0
        while offset < window and j < len(events):
            if events[j][0] == ON:
                count += 1
            elif events[j][0] == SHIFT:
                offset += events[j][1]
            j += 1
        scanned = min(offset, window)
        previous = count * steps_per_second / scanned if scanned > 0 else 0.0
        result.append(previous)
        previous_type = event_type
    return result


def reference_histogram(events, window_seconds, steps_per_second, prior):
    window = int(round(window_seconds * steps_per_second))
    result, previous_type, previous, base = [], None, None, set()
    for i, (event_type, value) in enumerate(events):
        if event_type == ON:
            base.add(value)
        elif event_type == OFF:
            base.discard(value)
        if previous_type is not None and previous_type != SHIFT:
            result.append(previous)
            previous_type = event_type
            continue
        j, offset, active, histogram = i, 0, set(base), [prior] * 12
        while offset < window and j < len(events):
            if events[j][0] == ON:
                active.add(events[j][1])
            elif events[j][0] == OFF:
                active.discard(events[j][1])
            elif events[j][0] == SHIFT:
                for pitch in active:
                    histogram[pitch % 12] += events[j][1] / steps_per_second
                offset += events[j][1]
            j += 1
        result.append(histogram)
        previous_type = event_type
        previous = histogram
    return result


def random_events(rng, count):
    events, sounding = [], set()
    for _ in range(count):
        kind = rng.random()
        if kind < 0.3:
            events.append((SHIFT, rng.randint(1, 100)))
        elif kind < 0.6 or not sounding:
            pitch = rng.choice([48, 60, 61, 64, 67, 72, 76])  # octaves share classes
            sounding.add(pitch)
            events.append((ON, pitch))
        elif kind < 0.9:
            pitch = rng.choice(sorted(sounding) + [30])  # sometimes an unmatched NOTE_OFF
            sounding.discard(pitch)
            events.append((OFF, pitch))
        else:
            events.append((VEL, rng.randint(1, 32)))
    return events


def test_vectorised_extraction_matches_the_rules_bit_for_bit():
    rng = random.Random(7)
    density, histogram = note_density_signal(), pitch_histogram_signal()
    for trial in range(30):
        events = random_events(rng, rng.choice([1, 2, 5, 60, 300]))
        if trial % 5 == 0:
            events[0] = (SHIFT, 7)
        performance = builders.performance(events)
        assert density.extract(performance) == reference_density(events, 3.0, 100)
        assert histogram.extract(performance) == reference_histogram(events, 5.0, 100, 0.01)
