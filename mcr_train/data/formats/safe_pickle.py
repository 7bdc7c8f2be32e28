"""An unpickler that only rebuilds plain containers and numpy arrays.

The official CIFAR "python version" batches are pickles. Unpickling runs code named in the file, so we
allow only the handful of globals that numpy arrays need; anything else is refused before it runs.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path

import numpy as np

from mcr_train.errors import DataError

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # protocol-2 pickles written by Python 3 store bytes as codecs.encode(text, "latin1")
    ("_codecs", "encode"): codecs.encode,
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed") from None


def load_array_pickle(path: Path) -> object:
    """Load a pickle of dicts/lists/bytes/numpy arrays (Python 2 ``cPickle`` files included)."""
    try:
        data = path.read_bytes()
        return _ArrayOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise DataError(
            f"{path} is not a valid array pickle ({type(exc).__name__}: {exc}); it is truncated, corrupt "
            "or not an official dataset file, download it again"
        ) from None
