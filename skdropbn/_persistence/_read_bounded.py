"""Bounded reading of a zip archive and the ``.npy`` arrays in it.

Step 1 of ``load``: every member is inflated in chunks against a budget
(``_Budget``) that counts the bytes actually produced, never the sizes the
archive declares; only stored and deflated members are read; every ``.npy``
header must declare exactly the data that follows it, and an ``.npz`` inside
is read the same way. Both format readers read through these functions, so
a zip bomb is rejected within the budget's memory and time whatever the
format.
"""

import io
import math
import zipfile
import zlib

import numpy as np

from skdropbn._persistence._common import _bad_file

# load inflates at most this much, in all, per file (see _Budget).
BUDGET_BASE = 16 << 20
BUDGET_PER_BYTE = 4
_CHUNK = 1 << 20
# More members than any model needs (a fitted search has a few per
# candidate); a bound on what the central directory makes zipfile build.
_MAX_MEMBERS = 20_000
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
# What a damaged archive can raise while it is read.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
)


class _Budget:
    """Bytes a file may still inflate to: ``BUDGET_BASE + BUDGET_PER_BYTE * size``.

    Our files inflate to about their own size (weights hardly compress); the
    base leaves room for JSON, which compresses well but is small. A zip
    bomb's members inflate hundreds of times their size: reading stops as
    soon as the budget is spent, so memory and time stay bounded by it.
    """

    def __init__(self, file_size, path):
        self.total = BUDGET_BASE + BUDGET_PER_BYTE * file_size
        self.left = self.total
        self.path = path

    def take(self, n, where):
        self.left -= n
        if self.left < 0:
            raise _bad_file(
                self.path,
                f"{where} inflates past the {self.total} bytes that load reads "
                "from a file of this size (a zip bomb?).",
            )


def _open_zip(source, path, where):
    try:
        zf = zipfile.ZipFile(source)
    except (*_READ_ERRORS, zipfile.LargeZipFile, ValueError) as exc:
        raise _bad_file(
            path, f"{where} is not a readable zip archive ({exc})."
        ) from None
    infos = zf.infolist()
    names = [info.filename for info in infos]
    if len(infos) > _MAX_MEMBERS:
        zf.close()
        raise _bad_file(path, f"{where} has {len(infos)} members, too many.")
    if len(set(names)) != len(names):
        zf.close()
        raise _bad_file(path, f"{where} holds two members of the same name.")
    return zf


def _inflate(zf, info, budget, where):
    """The member's bytes, read a chunk at a time against ``budget``."""
    if info.flag_bits & 0x1:
        raise _bad_file(budget.path, f"{where} is encrypted.")
    # bzip2 and LZMA members are inflated a whole compressed chunk at a time
    # by zipfile, unbounded; deflate is inflated to the size asked for.
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _bad_file(
            budget.path,
            f"{where} uses compression method {info.compress_type}; only "
            "stored and deflated members are read.",
        )
    out = bytearray()
    try:
        with zf.open(info) as f:
            while chunk := f.read(_CHUNK):
                budget.take(len(chunk), where)
                out += chunk
    except _READ_ERRORS as exc:
        raise _bad_file(budget.path, f"{where} is unreadable ({exc}).") from None
    return out


def _npy_header(data, where, path):
    """``(shape, fortran_order, dtype, offset)`` of an ``.npy``, checked.

    The header must declare a plain (non-object, unstructured) dtype and
    exactly as many bytes as follow it: an ``.npy`` that declares 10**12
    elements in a few bytes is rejected before anything is allocated.
    """
    f = io.BytesIO(data)
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError) as exc:
        raise _bad_file(path, f"{where} has a malformed .npy header ({exc}).") from None
    # Structured dtypes are plain data too (a decision tree's nodes); objects
    # would need pickle.
    if dtype.hasobject:
        raise _bad_file(path, f"{where} is an array of Python objects, not plain data.")
    if dtype.itemsize == 0:
        raise _bad_file(path, f"{where} is an array of empty dtype {dtype}.")
    declared = math.prod(shape) * dtype.itemsize
    held = len(data) - f.tell()
    if declared != held:
        raise _bad_file(
            path,
            f"{where} declares shape {shape} of {dtype} ({declared} bytes) "
            f"but holds {held} bytes.",
        )
    return shape, fortran, dtype, f.tell()


def _npy_array(data, where, path):
    shape, fortran, dtype, offset = _npy_header(data, where, path)
    flat = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def _check_content(data, where, budget, nested):
    """Check a member by what it holds: ``.npy`` headers, nested ``.npz``."""
    if data.startswith(_NPY_MAGIC):
        _npy_header(data, where, budget.path)
    elif data.startswith(_ZIP_MAGIC):
        if nested:
            raise _bad_file(budget.path, f"{where} is a zip archive inside another.")
        with _open_zip(io.BytesIO(data), budget.path, where) as inner:
            for info in inner.infolist():
                name = f"{where}/{info.filename}"
                _check_content(_inflate(inner, info, budget, name), name, budget, True)


def _read_members(raw, path):
    """Every member of the archive ``raw``, inflated within the budget."""
    budget = _Budget(len(raw), path)
    with _open_zip(io.BytesIO(raw), path, "the file") as zf:
        members = {}
        for info in zf.infolist():
            where = f"member {info.filename!r}"
            members[info.filename] = data = _inflate(zf, info, budget, where)
            _check_content(data, where, budget, nested=False)
    return members, budget
