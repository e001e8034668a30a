"""Reading .npy and .npz files a user or an artifact supplies: each array's header (dtype,
shape) is checked against the size budget before its data is read, object arrays (pickles)
are refused, and a truncated or corrupt file is one error naming the file and the member."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from snnc.compiler import budget
from snnc.compiler.errors import SnncError


class ArrayFileError(SnncError):
    """An .npy/.npz file is missing, corrupt, pickled, or declares an array over budget."""


def _header(f: IO[bytes], where: str) -> None:
    """Check one .npy header: a plain numeric dtype and a shape within the budget."""
    version = np.lib.format.read_magic(f)
    read = {(1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ArrayFileError(f"{where}: .npy format version {version} is not supported")
    shape, _, dtype = read(f)
    if dtype.hasobject:
        raise ArrayFileError(f"{where}: an array of Python objects (a pickle), which snnc "
                             "never loads; save numbers with np.save(..., allow_pickle=False)")
    budget.size_of(shape, where, max(dtype.itemsize, 1))


def read_npy(path: str | Path) -> np.ndarray:
    """One array from an .npy file."""
    where = str(path)
    try:
        with open(path, "rb") as f:
            _header(f, where)
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except SnncError:
        raise
    except FileNotFoundError:
        raise ArrayFileError(f"{where}: file not found") from None
    except Exception as e:  # noqa: BLE001 - numpy's header parser raises many kinds
        raise ArrayFileError(f"{where}: cannot read as .npy ({type(e).__name__}: {e})") from None


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file, by member name (without .npy)."""
    where = str(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = [i.filename for i in z.infolist()]
            for name in names:
                if not name.endswith(".npy"):
                    raise ArrayFileError(f"{where}: member {name!r} is not an .npy array")
                with z.open(name) as f:
                    _header(f, f"{where}: {name}")
            out = {}
            for name in names:
                with z.open(name) as f:
                    out[name[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
            return out
    except SnncError:
        raise
    except FileNotFoundError:
        raise ArrayFileError(f"{where}: file not found") from None
    except Exception as e:  # noqa: BLE001 - zipfile and numpy's header parser raise many kinds
        raise ArrayFileError(f"{where}: cannot read as .npz ({type(e).__name__}: {e})"
                             ) from None


def read_any(path: str | Path) -> np.ndarray | dict[str, np.ndarray]:
    """An .npy array, or an .npz file's arrays (told apart by content, not by name)."""
    try:
        with open(path, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"
    except FileNotFoundError:
        raise ArrayFileError(f"{path}: file not found") from None
    except OSError as e:
        raise ArrayFileError(f"{path}: cannot read ({e.strerror or e})") from None
    return read_npz(path) if zipped else read_npy(path)
