import pytest

from magenta_rnn.hparams import HParams, HParamsError, parse_hparams_string

DEFAULTS = dict(batch_size=64, rnn_layer_sizes=[128, 128], dropout_keep_prob=1.0,
                residual_connections=False, learning_rate=0.001, name='x')


def test_parses_the_readme_example():
    assert parse_hparams_string('batch_size=64,rnn_layer_sizes=[64,64]', DEFAULTS) == {
        'batch_size': 64, 'rnn_layer_sizes': [64, 64]}


def test_values_take_the_type_of_the_default():
    hparams = HParams(**DEFAULTS).parse(
        'dropout_keep_prob=1, residual_connections=true, learning_rate=1e-4, name=abc, batch_size=8.0')
    assert hparams.dropout_keep_prob == 1.0 and isinstance(hparams.dropout_keep_prob, float)
    assert hparams.residual_connections is True
    assert hparams.learning_rate == pytest.approx(1e-4)
    assert hparams.name == 'abc'
    assert hparams.batch_size == 8 and isinstance(hparams.batch_size, int)


def test_single_value_for_a_list_becomes_a_one_element_list():
    assert HParams(**DEFAULTS).parse('rnn_layer_sizes=256').rnn_layer_sizes == [256]


@pytest.mark.parametrize('text, message', [
    ('batchsize=3', "unknown hparam 'batchsize'"),
    ('batch_size=abc', "hparam 'batch_size' expects int, got 'abc'"),
    ('batch_size=1.5', "hparam 'batch_size' expects int, got 1.5"),
    ('rnn_layer_sizes=[64,x]', "hparam 'rnn_layer_sizes' expects int"),
    ('batch_size=[1,2]', "takes one int, not a list"),
    ('batch_size', 'cannot parse'),
])
def test_bad_strings_name_the_problem(text, message):
    with pytest.raises(HParamsError, match=r'^--hparams: .*' + message.replace('[', r'\[')):
        HParams(**DEFAULTS).parse(text)


def test_empty_string_changes_nothing():
    assert HParams(**DEFAULTS).parse('') == HParams(**DEFAULTS)


def test_copy_is_independent():
    original = HParams(**DEFAULTS)
    copy = original.copy()
    copy.rnn_layer_sizes.append(7)
    assert original.rnn_layer_sizes == [128, 128]


def test_pickles_for_worker_processes():
    import pickle
    hparams = HParams(**DEFAULTS)
    assert pickle.loads(pickle.dumps(hparams)) == hparams
