"""Writing files so that a crash, Ctrl-C or a full disk never leaves a partial one.

Every output goes to a temporary file beside its target, `<target>.<pid>.<random>.tmp`,
renamed into place once complete. The pid in the name lets the next run that writes
the same target remove what a killed run left (and only that: a file whose writer
is still running is kept).
"""
from __future__ import annotations

import logging
import os
import re
import tempfile


def stale_temp_files(path: str) -> list[str]:
    """Temporary files a killed writer of `path` left beside it (their process is gone)."""
    directory = os.path.dirname(os.path.abspath(path))
    prefix = os.path.basename(path) + '.'
    stale = []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    for name in names:
        match = _TEMP_NAME.fullmatch(name[len(prefix):]) if name.startswith(prefix) else None
        if match and not _process_alive(int(match.group('pid'))):
            stale.append(os.path.join(directory, name))
    return stale


# <target>.<pid>.<random>.tmp: the pid lets a later run tell a killed writer's leftover
# from a file another running process is still writing.
_TEMP_NAME = re.compile(r'(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp')


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(path: str) -> list[str]:
    """Removes (and logs) what killed writers of `path` left; returns the removed paths."""
    removed = []
    for stale in stale_temp_files(path):
        try:
            os.remove(stale)
        except OSError:
            continue
        logging.warning('removed %s, left by an earlier run that was killed', stale)
        removed.append(stale)
    return removed


def remove_stale_midi_temp_files(directory: str) -> list[str]:
    """Removes the `*.mid.<pid>.<random>.tmp` files killed runs left in an output folder."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    for name in names:
        target, dot, rest = name.partition('.mid.')
        match = _TEMP_NAME.fullmatch(rest) if dot else None
        if match and not _process_alive(int(match.group('pid'))):
            removed.extend(remove_stale_temp_files(os.path.join(directory, target + '.mid')))
    return removed


def temp_path_beside(path: str) -> str:
    """A new empty temporary file next to `path`, named so remove_stale_temp_files finds
    it if this process dies before renaming it into place."""
    directory = os.path.dirname(os.path.abspath(path))
    remove_stale_temp_files(path)
    fd, temp_path = tempfile.mkstemp(prefix=f'{os.path.basename(path)}.{os.getpid()}.',
                                     suffix='.tmp', dir=directory)
    os.close(fd)
    # mkstemp makes the file private; give it the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp_path, 0o666 & ~umask)
    return temp_path


def write_file_atomically(path: str, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file: `path` is whole or untouched
    (a full disk leaves no empty or truncated file)."""
    temp_path = temp_path_beside(path)
    try:
        with open(temp_path, 'wb') as f:
            f.write(data)
        os.replace(temp_path, path)
    except BaseException:
        remove_quietly(temp_path)
        raise


def missing_folders(directory: str) -> list[str]:
    """`directory` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return missing


# Folders make_folders created in this process: a failure removes the empty ones again.
_FOLDERS_MADE: set[str] = set()


def make_folders(directory: str) -> None:
    """os.makedirs(directory, exist_ok=True), remembering the folders it made for
    remove_empty_folders_made."""
    missing = missing_folders(os.path.abspath(directory))
    os.makedirs(directory, exist_ok=True)
    _FOLDERS_MADE.update(missing)


def remove_empty_folders_made(within: str | None = None) -> None:
    """Removes the folders make_folders made in this process that are empty now, deepest
    first (a child's path is longer than its parent's), so that a failure leaves no empty
    folders, even ones several writers shared (the last of them to fail removes them).
    within: only that folder and its parents (a failed writer's own target folder); None:
    all of them (a failed command)."""
    within = None if within is None else os.path.abspath(within)
    for folder in sorted(_FOLDERS_MADE, key=len, reverse=True):
        if within is not None and within != folder and not within.startswith(folder + os.sep):
            continue
        try:
            os.rmdir(folder)
        except FileNotFoundError:
            pass
        except OSError:  # not empty: something was written there
            continue
        _FOLDERS_MADE.discard(folder)


def remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def safe_file_name(text: str, fallback: str = 'config') -> str:
    """`text` from an untrusted source (a config's id) as one part of a file name: letters,
    digits, '-', '_' and '.' only, so never a path and never a hidden file."""
    safe = re.sub(r'[^A-Za-z0-9_.-]', '_', text).lstrip('.')[:100]
    return safe or fallback


def write_midi_file(sequence, path: str) -> None:
    """Writes a NoteSequence as a MIDI file atomically (see write_file_atomically)."""
    from magenta_rnn.music import midi_io
    midi = midi_io.note_sequence_to_pretty_midi(sequence)
    write_file_atomically(path, midi_io.pretty_midi_to_bytes(midi))
