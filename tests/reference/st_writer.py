"""Minimal safetensors writer for the reference fixtures (numpy only, no extra package).

Layout: 8-byte little-endian header size N, N bytes of JSON, then the raw tensor bytes.
The C++ side reads these files with engine/serialize/safetensors.cpp.
"""
import json
import struct

import numpy as np

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (float32, float64 or int64); metadata: dict of str."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        # np.ascontiguousarray promotes 0-d arrays to shape (1,): restore the shape so a 0-d
        # tensor (a loss, a reduction over all elements) is stored with shape []
        arr = np.ascontiguousarray(tensors[name]).reshape(np.shape(tensors[name]))
        if arr.dtype not in _DTYPES:
            raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
