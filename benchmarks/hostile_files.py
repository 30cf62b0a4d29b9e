"""What hostile model files cost ``skdropbn.load``: peak extra memory and time.

Builds zip bombs in every member of both formats (the JSON members, a
``.npy`` in a version 2 file, a compressed ``.npy`` inside version 1's
``.npz``, with the sizes and SHA-256 the manifest declares set to match),
``.npy`` headers declaring 10**12 elements, a schema that reads one array a
thousand times, and deeply nested JSON; loads each in a fresh process and
prints a Markdown table: the case, the file's size, the peak resident memory
above what the process held just before ``load`` (sampled every millisecond),
the peak that ``load`` allocated (``tracemalloc``, which NumPy reports to as
well, in a second attempt), the seconds ``load`` took, and what it raised.

Usage::

    KERAS_BACKEND=tensorflow python benchmarks/hostile_files.py \
        > benchmarks/results/hostile-files.md

With ``--skops``, the version 2 cases are loaded by ``skops.io.load`` alone
(trusting ``skdropbn.DropBNRegressor``): what skops bounds and checks without
``skdropbn.load`` around it.
"""

import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

GIB = 1 << 30
CHUNK = 1 << 20
REPO = Path(__file__).resolve().parents[1]
V1_FILE = REPO / "tests" / "data" / "v1-regressor.skdropbn"

CHILD = r"""
import json, os, sys, threading, time, tracemalloc
import numpy as np
import skdropbn

good, bad, loader = sys.argv[1], sys.argv[2], sys.argv[3]
if loader == "skops":  # skops alone, trusting our estimator: for comparison
    import skops.io

    def load(path):
        return skops.io.load(path, trusted=["skdropbn.DropBNRegressor"])
else:
    load = skdropbn.load
load(good)  # warm: imports, caches

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def attempt():
    try:
        load(bad)
        return "loaded"
    except ValueError as exc:
        return "ValueError: " + str(exc).split("model file: ", 1)[-1]
    except BaseException as exc:
        return f"{type(exc).__name__}: {exc}"

# Timed, with the resident memory sampled every millisecond.
peak, done = [rss()], threading.Event()
def sample():
    while not done.is_set():
        peak.append(rss())
        time.sleep(0.001)
before = rss()
sampler = threading.Thread(target=sample)
sampler.start()
start = time.perf_counter()
outcome = attempt()
seconds = time.perf_counter() - start
done.set()
sampler.join()
# Again under tracemalloc (NumPy reports its buffers to it too): the peak of
# what load allocates, missed by no sampling interval.
tracemalloc.start()
attempt()
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"rss_mib": max(0, max(peak) - before) / 2**20,
                  "traced_mib": traced / 2**20, "seconds": seconds,
                  "outcome": outcome}))
"""


def members_of(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write(path, members, big=None):
    """Write ``members``; ``big`` = (name, prefix, size, suffix) streamed in."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if big is None or name != big[0]:
                zf.writestr(name, data)
        if big is not None:
            name, prefix, size, suffix = big
            with zf.open(name, "w", force_zip64=True) as f:
                f.write(prefix)
                zeros = b" " * CHUNK if prefix[:1] != b"\x93" else b"\0" * CHUNK
                for _ in range(size // CHUNK):
                    f.write(zeros)
                f.write(suffix)
    return path


def streamed_sha256(prefix, size, suffix, fill):
    digest = hashlib.sha256(prefix)
    block = fill * CHUNK
    for _ in range(size // CHUNK):
        digest.update(block)
    digest.update(suffix)
    return digest.hexdigest(), len(prefix) + size + len(suffix)


def npy_header(shape, dtype="<f8"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def cases(folder, good):
    v2 = members_of(good)
    v1 = members_of(V1_FILE)
    npy_name = next(n for n in v2 if n.endswith(".npy"))
    schema = json.loads(v2["schema.json"])
    out = []

    out.append(("valid file (format version 2)", good))
    out.append(("valid file (format version 1)", V1_FILE))

    # JSON members of 1 GiB (honest zip sizes).
    out.append(
        (
            "v2 schema.json inflating to 1 GiB",
            write(folder / "schema.skdropbn", v2, ("schema.json", b"{", GIB, b"}")),
        )
    )
    out.append(
        (
            "v2 skdropbn.json inflating to 1 GiB",
            write(folder / "header.skdropbn", v2, ("skdropbn.json", b"{", GIB, b"}")),
        )
    )
    # A .npy of 1 GiB of zeros whose header matches its data.
    header = npy_header((GIB // 8,))
    out.append(
        (
            "v2 .npy member of 1 GiB zeros (honest header)",
            write(folder / "npy.skdropbn", v2, (npy_name, header, GIB, b"")),
        )
    )
    # A .npy declaring 10**12 elements, holding a few bytes.
    liar = npy_header((10**12,)) + b"\0" * 64
    out.append(
        (
            "v2 .npy header declaring 10**12 float64",
            write(folder / "liar.skdropbn", {**v2, npy_name: liar}),
        )
    )
    # One 8 MiB array read by the schema 1,000 times.
    array = io.BytesIO()
    np.save(array, np.zeros(CHUNK))
    node = {
        "__class__": "ndarray",
        "__module__": "numpy",
        "__loader__": "NdArrayNode",
        "type": "numpy",
        "file": npy_name,
    }
    many = json.loads(json.dumps(schema))
    many["content"]["content"]["history_"] = {
        "__class__": "list",
        "__module__": "builtins",
        "__loader__": "ListNode",
        "content": [node] * 1000,
    }
    out.append(
        (
            "v2 schema reading one 8 MiB array 1,000 times",
            write(
                folder / "refs.skdropbn",
                {**v2, npy_name: array.getvalue(), "schema.json": json.dumps(many)},
            ),
        )
    )
    deep = "[" * 10**6 + "]" * 10**6
    nested = v2["schema.json"][:-1] + f', "x": {deep}}}'.encode()
    out.append(
        (
            "v2 schema.json nested 10**6 deep",
            write(
                folder / "deep.skdropbn",
                {**v2, "schema.json": nested},
            ),
        )
    )
    # Version 1: members of 1 GiB whose manifest size and SHA-256 match.
    manifest = json.loads(v1["manifest.json"])
    prefix = b'{"params": {}, "attributes": {}, "pad": "'
    sha, size = streamed_sha256(prefix, GIB, b'"}', b" ")
    manifest["members"]["estimator.json"] = {"sha256": sha, "size": size}
    out.append(
        (
            "v1 estimator.json of 1 GiB, manifest matching",
            write(
                folder / "v1json.skdropbn",
                {**v1, "manifest.json": json.dumps(manifest)},
                ("estimator.json", prefix, GIB, b'"}'),
            ),
        )
    )
    # Version 1: a compressed .npy of 1 GiB inside the (stored) .npz.
    inner = folder / "inner.npz"
    write(inner, {}, ("a0.npy", npy_header((GIB // 8,)), GIB, b""))
    npz = inner.read_bytes()
    manifest = json.loads(v1["manifest.json"])
    manifest["members"]["arrays.npz"] = {
        "sha256": hashlib.sha256(npz).hexdigest(),
        "size": len(npz),
    }
    out.append(
        (
            "v1 compressed 1 GiB .npy inside arrays.npz, manifest matching",
            write(
                folder / "v1npz.skdropbn",
                {**v1, "arrays.npz": npz, "manifest.json": json.dumps(manifest)},
            ),
        )
    )
    # Version 1: an .npy in the .npz declaring 10**12 elements.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a0.npy", liar)
    npz = buffer.getvalue()
    manifest["members"]["arrays.npz"] = {
        "sha256": hashlib.sha256(npz).hexdigest(),
        "size": len(npz),
    }
    out.append(
        (
            "v1 .npy in arrays.npz declaring 10**12 float64, manifest matching",
            write(
                folder / "v1liar.skdropbn",
                {**v1, "arrays.npz": npz, "manifest.json": json.dumps(manifest)},
            ),
        )
    )
    return out


def main(loader):
    from sklearn.datasets import make_regression

    import skdropbn
    from skdropbn import DropBNRegressor

    X, y = make_regression(200, 5, random_state=0)
    est = DropBNRegressor(n_layers=1, units=16, epochs=3, random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        good = Path(skdropbn.save(est.fit(X, y), folder / "good.skdropbn"))
        rows = []
        for name, path in cases(folder, good):
            if loader == "skops" and ("v1" in name or "version 1" in name):
                continue  # skops reads skops files only
            result = subprocess.run(
                [sys.executable, "-c", CHILD, str(good), str(path), loader],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(result.stdout.strip().splitlines()[-1])
            rows.append((name, path.stat().st_size, r))
            print(name, r, file=sys.stderr)
    print(
        "| case | file size | peak extra RSS (sampled) | peak allocated "
        "(tracemalloc) | seconds | outcome |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for name, size, r in rows:
        outcome = r["outcome"].replace("|", "\\|")
        if len(outcome) > 140:
            outcome = outcome[:137] + "..."
        print(
            f"| {name} | {size / 1024:,.1f} KiB | {r['rss_mib']:.1f} MiB "
            f"| {r['traced_mib']:.1f} MiB | {r['seconds']:.3f} | {outcome} |"
        )


if __name__ == "__main__":
    # --skops: the version 2 cases loaded by skops.io.load alone instead.
    main("skops" if "--skops" in sys.argv[1:] else "skdropbn")
