"""Hyperparameters and the `--hparams="name=value,..."` syntax users type.

Values are parsed to the type of the existing default (int, float, bool, str or
a list of these); an unknown name or a value of the wrong kind raises
HParamsError naming it.
"""
from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from typing import Any


class HParamsError(ValueError):
    pass


class HParams:
    """A fixed set of named values; attribute access, typed updates."""

    def __init__(self, **values: Any):
        object.__setattr__(self, '_values', dict(values))

    def __getattr__(self, name: str) -> Any:
        if name.startswith('__'):  # keeps pickle and copy from recursing
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f'no hparam named {name!r}') from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._values:
            raise HParamsError(f'unknown hparam {name!r}; known: {", ".join(sorted(self._values))}')
        self._values[name] = _coerce(name, value, self._values[name])

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HParams) and self._values == other._values

    def __repr__(self) -> str:
        return f'HParams({self.to_string()})'

    def values(self) -> dict[str, Any]:
        return dict(self._values)

    def copy(self) -> HParams:
        return HParams(**{k: list(v) if isinstance(v, list) else v for k, v in self._values.items()})

    def update(self, values: Mapping[str, Any]) -> HParams:
        for name, value in values.items():
            setattr(self, name, value)
        return self

    def parse(self, text: str) -> HParams:
        """Applies a `name=value,name=[a,b]` string in place and returns self."""
        return self.update(parse_hparams_string(text, self._values))

    def to_string(self) -> str:
        return ','.join(f'{k}={_format(v)}' for k, v in sorted(self._values.items()))


def _format(value: Any) -> str:
    if isinstance(value, list):
        return '[' + ','.join(_format(v) for v in value) + ']'
    return str(value)


# name=value where value is a [list] or runs to the next comma.
_ITEM = re.compile(r'\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*'
                   r'(?P<value>\[[^\]]*\]|[^,\[\]]*?)\s*(?:,|$)')


def parse_hparams_string(text: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Parses `text` against `defaults`; returns {name: typed value} for the names given."""
    result: dict[str, Any] = {}
    text = text.strip()
    position = 0
    while position < len(text):
        match = _ITEM.match(text, position)
        if not match or match.end() == position:
            raise HParamsError(f'--hparams: cannot parse {text[position:]!r}; '
                               'expected name=value items separated by commas')
        name, raw = match.group('name'), match.group('value')
        if name not in defaults:
            raise HParamsError(f'--hparams: unknown hparam {name!r}; known: '
                               f'{", ".join(sorted(defaults))}')
        try:
            result[name] = _coerce(name, _literal(raw), defaults[name])
        except HParamsError as e:
            raise HParamsError(f'--hparams: {e}') from None
        position = match.end()
    return result


def _literal(raw: str) -> Any:
    if raw.lower() in ('true', 'false'):
        return raw.lower() == 'true'
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Converts value to the type of default, or raises HParamsError."""
    if default is None:
        return value
    if isinstance(default, list):
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            value = [value]
        element_default = default[0] if default else None
        return [_coerce(name, v, element_default) for v in value]
    if isinstance(value, list):
        raise HParamsError(f'hparam {name!r} takes one {type(default).__name__}, not a list {value!r}')
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        return str(value)
    raise HParamsError(f'hparam {name!r} expects {type(default).__name__}, got {value!r}')


# Hparams that count something and so must be at least 1 (each element, for lists).
_POSITIVE_COUNTS = {'batch_size', 'rnn_layer_sizes', 'z_size', 'max_seq_len', 'enc_rnn_size',
                    'dec_rnn_size', 'nade_num_hidden', 'control_preprocessing_rnn_size'}
# Hparams that may be 0 but never negative.
_NON_NEGATIVE = {'attn_length', 'free_bits', 'max_beta', 'grad_norm_clip_to_zero',
                 'clip_norm', 'grad_clip', 'min_learning_rate', 'sampling_rate'}


def check_values(hparams: HParams) -> None:
    """Raises HParamsError for a value no model can train or run with (a zero size, a
    NaN rate, a keep probability above 1), before any work starts."""
    for name, value in hparams.values().items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, float) and not math.isfinite(item):
                raise HParamsError(f'hparam {name!r} must be a finite number, got {item}')
            if name in _POSITIVE_COUNTS and isinstance(item, int) and item < 1:
                raise HParamsError(f'hparam {name!r} must be at least 1, got {value}')
            if name in _NON_NEGATIVE and isinstance(item, (int, float)) and item < 0:
                raise HParamsError(f'hparam {name!r} must not be negative, got {value}')
        if name in _POSITIVE_COUNTS and isinstance(value, list) and not value \
                and name != 'control_preprocessing_rnn_size':
            raise HParamsError(f'hparam {name!r} needs at least one size, got []')
        if name.endswith('keep_prob') and not 0.0 < value <= 1.0:
            raise HParamsError(f'hparam {name!r} must be in (0, 1], got {value}')
        if name == 'learning_rate' and not value > 0:
            raise HParamsError(f'hparam {name!r} must be positive, got {value}')


def check_json_types(source: str, data: Mapping[str, Any], types: Mapping[str, type]) -> None:
    """Raises HParamsError naming `source` when a config field has the wrong JSON type."""
    names = {dict: 'an object', str: 'a string', int: 'a whole number', list: 'a list'}
    for key, expected in types.items():
        if key not in data:
            continue
        value = data[key]
        wrong = (not isinstance(value, expected)
                 or (expected is int and isinstance(value, bool)))
        if wrong:
            raise HParamsError(f'{source}: field {key!r} must be {names.get(expected, expected)}, '
                               f'got {json_type_name(value)} {value!r}'[:300])


def json_type_name(value: Any) -> str:
    return {dict: 'an object', list: 'a list', str: 'a string', bool: 'a boolean',
            int: 'a number', float: 'a number', type(None): 'null'}.get(type(value), 'a value')
