"""The file format of one's own vectors (config key vector_datasets), read and checked with NumPy only.

Planning (mimflow.workflow) checks every planned file with this, without importing torch; the training
stream (mimflow.data.vectors) reads its arrays through it. The format is in mimflow.data.vectors.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

ARRAYS = ("x_train", "y_train", "x_test", "y_test")


class VectorFileError(ValueError):
    """A vector dataset file breaks the format; the message is one line naming the file and the array."""


# What reading a truncated or corrupt .npz raises, from np.load or from reading one of its arrays.
UNREADABLE = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)


def unreadable(path: Path, err: BaseException) -> VectorFileError:
    why = " ".join(str(err).split()) or type(err).__name__  # one line, whatever the reader said
    return VectorFileError(f"vector dataset {path}: not a readable .npz file ({why}); it is truncated or corrupt: "
                           "write it again (np.savez with x_train, y_train, x_test, y_test)")


def read_vectors(path: str | Path, min_rows: int = 1) -> dict[str, np.ndarray]:
    """The four arrays of a vector dataset file, checked (one-line VectorFileError naming the bad array)."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise VectorFileError(f"vector dataset {path}: no such file") from None
    except UNREADABLE as err:
        raise unreadable(path, err) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise VectorFileError(f"vector dataset {path}: a single array, not an .npz archive; needs an .npz of "
                              f"{list(ARRAYS)}")
    with archive:
        missing = [name for name in ARRAYS if name not in archive.files]
        if missing:
            raise VectorFileError(f"vector dataset {path}: array(s) {missing} missing; has {sorted(archive.files)}, "
                                  f"needs {list(ARRAYS)}")
        try:
            arrays = {name: archive[name] for name in ARRAYS}
        except UNREADABLE as err:  # a truncated archive can list its arrays and fail on reading them
            raise unreadable(path, err) from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 2 or x.shape[1] < 1:
            raise VectorFileError(f"vector dataset {path}: x_{split} has shape {x.shape}; needs (n, d), d >= 1")
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise VectorFileError(f"vector dataset {path}: x_{split} has dtype {x.dtype}; needs real numbers")
        if not np.isfinite(x).all():
            raise VectorFileError(f"vector dataset {path}: x_{split} holds {int((~np.isfinite(x)).sum())} "
                                  "non-finite value(s); needs finite values")
        if y.shape != (len(x),):
            raise VectorFileError(f"vector dataset {path}: y_{split} has shape {y.shape}; needs ({len(x)},), one "
                                  f"label per row of x_{split}")
        if not np.issubdtype(y.dtype, np.integer):
            raise VectorFileError(f"vector dataset {path}: y_{split} has dtype {y.dtype}; needs integer labels")
        if len(x) < min_rows:
            raise VectorFileError(f"vector dataset {path}: x_{split} has {len(x)} row(s); needs at least {min_rows} "
                                  "(one batch)")
    if arrays["x_train"].shape[1] != arrays["x_test"].shape[1]:
        raise VectorFileError(f"vector dataset {path}: x_test has {arrays['x_test'].shape[1]} columns, x_train "
                              f"{arrays['x_train'].shape[1]}; needs the same")
    return arrays
