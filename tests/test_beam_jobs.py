"""beam_jobs helpers that need no Beam: shard names and the per-NoteSequence split."""
from magenta_rnn.pipelines import beam_jobs


def test_sharded_prefix_drops_the_tfrecord_ending():
    assert beam_jobs.sharded_prefix('/data/lmd.tfrecord') == '/data/lmd'
    assert beam_jobs.sharded_prefix('/data/lmd') == '/data/lmd'


def test_eval_side_depends_only_on_the_record_and_seed():
    records = [i.to_bytes(2, "big") for i in range(2000)]
    sides = [beam_jobs.eval_side(r, 0.1, seed=5) for r in records]
    assert sides == [beam_jobs.eval_side(r, 0.1, seed=5) for r in records]
    assert 150 < sum(sides) < 250  # about eval_ratio of them
    assert sides != [beam_jobs.eval_side(r, 0.1, seed=6) for r in records]
    assert not any(beam_jobs.eval_side(r, 0.0, seed=5) for r in records)
    assert all(beam_jobs.eval_side(r, 1.0, seed=5) for r in records)
