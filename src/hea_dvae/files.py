"""Writing output files so that nothing is lost and nothing is half-written.

Every file the package writes for a user (design tables, screen states,
recorded numbers) goes through :func:`write_files`, and every output path a
command is given is checked by :func:`check_output` *before* any work starts:

- all or none: every file of one call is first written in full to a
  temporary sibling, and only when all of them are complete are they renamed
  into place; an error removes the temporaries and leaves the old files;
- a symbolic link is written through (its target is replaced, the link
  stays); a FIFO or a device (``/dev/stdout``) is written in place, never
  replaced by a regular file; a folder is refused;
- a new file gets the permissions ``0o666`` minus the umask (as ``open``
  would give it); a replaced file keeps its own;
- errors name the path the user gave, never a temporary file.

Input files a user gives (formulas, results) are read by :func:`read_input_lines`,
one convention for every command: UTF-8 (a byte-order mark is skipped), ``-``
for standard input, blank lines and ``#`` lines left out, every line kept with
its number for error messages.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Mapping, NamedTuple


class OutputError(ValueError):
    """An output path that cannot be written (a folder, a missing folder, no permission)."""


class InputError(ValueError):
    """An input file that cannot be read (missing, a folder, no permission, not UTF-8 text)."""


class InputLines(NamedTuple):
    """An input file's text and its lines worth reading (see :func:`read_input_lines`)."""

    name: str  #: how messages name it: the path, or "standard input"
    text: str  #: the whole text, as read
    lines: list[tuple[int, str]]  #: (line number from 1, line) of every line not blank and not a comment


def read_input_lines(source: str | os.PathLike) -> InputLines:
    """Read a text file a user gave (``"-"``: standard input), keeping every line's number.

    The file is read as UTF-8 (a byte-order mark, as spreadsheet programs
    write, is skipped). Blank lines and lines whose first non-blank
    character is ``#`` are left out of ``lines``.

    Raises
    ------
    InputError
        The file cannot be read, naming it and the reason.
    """
    source = os.fspath(source)
    name = "standard input" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read input file {source!r}: {getattr(error, 'strerror', None) or error}") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    return InputLines(name, text, lines)


def umask() -> int:
    """The process's file-creation mask."""
    try:
        # Linux shows it without changing it (setting it, below, races with other threads).
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _target(path: str | os.PathLike) -> Path:
    """Where writing ``path`` lands: through symbolic links, to their final target."""
    return Path(os.path.realpath(os.fspath(path)))


def _is_special(target: Path) -> bool:
    """An existing file that is not a regular file or a folder (FIFO, device, socket)."""
    try:
        mode = target.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def check_output(path: str | os.PathLike, option: str = "output") -> Path:
    """Check that ``path`` can be written, without writing it; return where it lands.

    A file is created and removed in the target's folder (the only test that
    also sees read-only file systems and quotas); an existing FIFO or device
    must be writable.

    Parameters
    ----------
    path : path-like
        The output path as the user gave it.
    option : str
        How the user named it (``"--out"``), for the message.

    Raises
    ------
    OutputError
        The path is a folder, its folder does not exist, or it cannot be written.
    """
    given = os.fspath(path)
    target = _target(given)
    if target.is_dir():
        raise OutputError(f"{option} {given} is a folder; give a file name")
    if _is_special(target):
        if not os.access(target, os.W_OK):
            raise OutputError(f"{option} {given}: no permission to write it")
        return target
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"{option} {given}: folder {folder} does not exist")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".probe")
    except OSError as error:
        raise OutputError(f"{option} {given}: cannot write in {folder} ({error.strerror or error})") from None
    os.close(handle)
    os.unlink(probe)
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"{option} {given}: no permission to replace it")
    return target


def check_outputs(paths: Mapping[str, str | os.PathLike | None]) -> None:
    """:func:`check_output` for every ``option -> path`` given (None: not asked for).

    Two options naming the same file are refused: one would overwrite the other.
    """
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        target = check_output(path, option)
        if target in seen and not _is_special(target):
            raise OutputError(f"{option} and {seen[target]} name the same file {path}")
        seen[target] = option


def write_files(contents: Mapping[str | os.PathLike, str | bytes]) -> None:
    """Write several files, all or none (see the module docstring).

    Parameters
    ----------
    contents : mapping
        Path -> content; ``str`` is written as UTF-8 text, ``bytes`` as is.

    Raises
    ------
    OutputError
        A path that cannot be written; no file was changed.
    """
    staged: list[tuple[str, Path, str, Path]] = []  # (given, target, temporary, folder)
    special: list[tuple[str, Path, bytes]] = []
    try:
        for given, content in contents.items():
            given = os.fspath(given)
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            target = _target(given)
            if target.is_dir():
                raise OutputError(f"{given} is a folder; give a file name")
            if _is_special(target):
                special.append((given, target, data))
                continue
            try:
                handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                                     suffix=".partial")
            except OSError as error:
                raise OutputError(f"cannot write {given}: {error.strerror or error}") from None
            staged.append((given, target, temporary, target.parent))
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(data)
                    stream.flush()
                    os.fsync(stream.fileno())
                mode = (target.stat().st_mode & 0o7777) if target.exists() else (0o666 & ~umask())
                os.chmod(temporary, mode)
            except OSError as error:
                raise OutputError(f"cannot write {given}: {error.strerror or error}") from None
        for given, target, data in special:
            try:
                with open(target, "wb") as stream:
                    stream.write(data)
            except OSError as error:
                raise OutputError(f"cannot write {given}: {error.strerror or error}") from None
        for given, target, temporary, _ in staged:
            os.replace(temporary, target)
    except BaseException:
        for _, _, temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)
        raise


def write_file(path: str | os.PathLike, content: str | bytes) -> None:
    """Write one file atomically (see :func:`write_files`)."""
    write_files({path: content})
