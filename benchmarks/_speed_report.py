"""The Markdown report of benchmarks/speed.py, rendered from its JSON results alone.

``render(results)`` takes the dict that ``speed.py`` writes to
``speed-<backend>.json`` and returns the Markdown of ``speed-<backend>.md``:
a header (date, machine, versions, data), one table row per measurement
(skdropbn's figure, the baselines', the ratio, the target and whether it is
met) and notes. Every number in it comes from the dict, so the report can be
re-rendered without re-timing (``speed.py --report-only FILE.json``); the
prose is in the templates below.
"""

# -- templates -------------------------------------------------------------------
TITLE = "# skdropbn speed, Keras backend `{backend}`"
TITLE_QUICK = " (`--quick`: fewer repeats, smaller searches)"
MACHINE = "{date}; {cores} CPUs ({cpu}); load average {start} at start, {end} at end"
NOTE_FIXED = (
    "{net} net: skdropbn's fixed cost per fit, t(E1) - E1 x epoch "
    "(E1={e1}, E2={e2}): {fixed}."
)
NOTE_AVERAGED = (
    "{net} net: the table times ema_momentum=0 (the last weights, as "
    "model.fit); with the default weight averaging (ema_momentum='auto') an "
    "epoch takes {averaged}, {ratio:.2f}x (timed interleaved with it)."
)
NOTE_PRODUCTS = (
    "{net} net: the matrix products and ReLU alone (the same trainer with no "
    "dropout, no batch norm and SGD) take {floor} per epoch of {computed} rows "
    "({rows} rows in {batches} equal batches), {share:.0f}% of the epoch; "
    "{target}x model.fit needs {budget}. With Adam's update instead of SGD's "
    "(still no dropout, no batch norm): {adam}."
)
NOTE_NUMPY = (
    "{net} net: the float32 matrix products of an epoch alone, as NumPy (its "
    "BLAS) computes them on the steps' exact shapes ({batches} x {per_batch} "
    "rows; no dropout, batch norm, optimizer or loop), timed in the same round, "
    "take {best} at best ({gflops:.1f} GFLOP/s; median {median}): {share:.0f}% "
    "of the {budget} that {target}x model.fit allows a whole epoch."
)
NOTE_COMPILED = (
    "{backend}'s {how} float32 products of a training step, {batch} "
    "rows x {units} x {units}, median GFLOP/s: {rates}; at these rates the "
    "products of an epoch of {computed} rows take at least {bound}."
)
NOTE_GEMM = "NumPy float32 GEMM before the epochs' rounds, median GFLOP/s: {rates}"
NOTE_LOADED = "Backend modules loaded by import skdropbn: {loaded}."
NOTE_NO_SCIKERAS = (
    "scikeras needs TensorFlow and was not run{where}; "
    "keras.wrappers.SKLearnRegressor is the baseline of the grid search and the "
    "memory row. Its epochs and batch size reach each fit of the grid search as "
    "fit parameters: clone() drops its fit_kwargs, and a cloned wrapper trains "
    "one epoch."
)
NOTE_TOTAL = "Total run time {seconds:.0f} s."
NOTE_JSON = (
    "Every figure above, with the samples behind each median, is in the JSON "
    "file of the same name, from which this page was rendered."
)
COLUMNS = ["measurement", "skdropbn", "baselines", "ratio", "target", "result"]


# -- formatting ------------------------------------------------------------------
def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def verdict(ok):
    return "pass" if ok else "**miss**"


def faster(baseline, ours):
    ratio = baseline / ours
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


def rates(gflops):
    return ", ".join(f"{k} {v:.1f}" for k, v in gflops.items())


def load_text(load):
    return "unknown" if load is None else " ".join(f"{v:.2f}" for v in load)


def net_shape(net):
    return f"{net['n_layers']} x {net['units']}"


# -- header ----------------------------------------------------------------------
def header(results):
    machine, load = results["machine"], results["load_average"]
    versions = ", ".join(
        f"{name} {version or 'not installed'}"
        for name, version in machine["versions"].items()
    )
    title = TITLE.format(backend=machine["backend"])
    if results["settings"]["quick"]:
        title += TITLE_QUICK
    return [
        title,
        "",
        MACHINE.format(
            date=machine["date"][:16].replace("T", " "),
            cores=machine["cores"],
            cpu=machine["cpu"],
            start=load_text(load["start"]),
            end=load_text(load["end"]),
        ),
        "",
        f"Python {machine['python']}, {versions}",
        "",
        f"Data: {results['settings']['data']}.",
        "",
    ]


# -- training --------------------------------------------------------------------
def _epoch(record, variant="table"):
    return record["skdropbn"][variant]["epoch"]["median"]


def epoch_row(record, target):
    ours, fit = _epoch(record), record["model_fit"]
    theirs, xla = fit["median"], record["model_fit_xla"]["median"]
    net = record["net"]
    return [
        f"Epoch time, {net_shape(net)}, batch {net['batch_size']}, "
        f"{record['rows']} rows",
        fmt_time(ours),
        f"model.fit {fmt_time(theirs)} (jit_compile={fit['jit_compile']}); "
        f"jit_compile=True {fmt_time(xla)}",
        faster(theirs, ours),
        f">= {target}x model.fit",
        verdict(theirs / ours >= target),
    ]


def gflops_row(record, share):
    net, flops, peak = record["net"], record["flops"], record["gemm_reference"]
    theirs = record["model_fit"]["median"]
    achieved = flops / _epoch(record) / 1e9
    n = peak["n"]
    return [
        f"GFLOP/s in training, {net_shape(net)}, batch {net['batch_size']}, "
        f"{record['rows']} rows ({flops / 1e9:.1f} GFLOP/epoch)",
        f"{achieved:.1f}",
        f"NumPy float32 GEMM {peak['gflops']:.1f} ({n},{n})@({n},{n}), timed in "
        f"the epochs' round; model.fit {flops / theirs / 1e9:.1f}",
        f"{100 * achieved / peak['gflops']:.0f}% of GEMM",
        f">= {100 * share:.0f}% of GEMM",
        verdict(achieved >= share * peak["gflops"]),
    ]


def epoch_notes(name, record, target):
    ours, theirs = _epoch(record), record["model_fit"]["median"]
    products = record["numpy_products"]
    batches, per_batch = products["batches"], products["rows_per_batch"]
    budget, best = theirs / target, products["best"]
    averaged, floor = _epoch(record, "averaged"), _epoch(record, "products")
    fixed = record["skdropbn"]["table"]["fixed"]["median"]
    return [
        NOTE_FIXED.format(
            net=name, e1=record["e1"], e2=record["e2"], fixed=fmt_time(fixed)
        ),
        NOTE_AVERAGED.format(
            net=name, averaged=fmt_time(averaged), ratio=averaged / ours
        ),
        NOTE_PRODUCTS.format(
            net=name,
            floor=fmt_time(floor),
            computed=batches * per_batch,
            rows=record["rows"],
            batches=batches,
            share=100 * floor / ours,
            target=target,
            budget=fmt_time(budget),
            adam=fmt_time(_epoch(record, "products_adam")),
        ),
        NOTE_NUMPY.format(
            net=name,
            batches=batches,
            per_batch=per_batch,
            best=fmt_time(best),
            gflops=products["flops"] / best / 1e9,
            median=fmt_time(products["median"]),
            share=100 * best / budget,
            budget=fmt_time(budget),
            target=target,
        ),
    ]


def compiled_note(backend, record, compiled):
    """The epoch time the backend's compiled products imply for ``record``."""
    products = record["numpy_products"]
    computed = products["batches"] * products["rows_per_batch"]
    computed_flops = record["flops"] * computed / record["rows"]
    # A third of the work is each kind of product.
    gflops = compiled["gflops"]
    bound = sum(computed_flops / 3 / rate / 1e9 for rate in gflops.values())
    return NOTE_COMPILED.format(
        backend=backend,
        # The trainer's epoch is compiled by XLA on TensorFlow and JAX; on
        # PyTorch it runs eagerly (see trainer_torch.py).
        how="eager" if backend == "torch" else "compiled (XLA)",
        batch=compiled["batch"],
        units=compiled["units"],
        rates=rates(gflops),
        computed=computed,
        bound=fmt_time(bound),
    )


def training(results):
    """Rows and notes of the epoch, GFLOP/s and compiled-product figures."""
    rows, notes, targets = [], [], results["targets"]
    for name, record in results["epochs"].items():
        target = targets["epoch_vs_model_fit"][name]
        rows.append(epoch_row(record, target))
        if record["gemm_reference"]:
            rows.append(gflops_row(record, targets["gflops_share_of_gemm"]))
        notes += epoch_notes(name, record, target)
        if record["gemm_reference"] and results.get("compiled_gemm"):
            backend = results["machine"]["backend"]
            notes.append(compiled_note(backend, record, results["compiled_gemm"]))
    notes.append(NOTE_GEMM.format(rates=rates(results["gemm"])))
    return rows, notes


# -- the other measurements ------------------------------------------------------
def grid_row(grid, target):
    seconds, who = grid["seconds"], grid["baseline"]
    ours, theirs = seconds["skdropbn"], seconds[who]
    net = grid["net"]
    return [
        f"GridSearchCV wall time, {grid['n_candidates']} candidates, "
        f"{grid['cv']}-fold, {grid['epochs']} epochs ({grid['n_fits']} fits), "
        f"{net['units']} units, batch {net['batch_size']}, MSE, n_jobs=1",
        fmt_time(ours),
        f"{who} {fmt_time(theirs)}",
        faster(theirs, ours),
        f">= {target}x {who}",
        verdict(theirs / ours >= target),
    ]


def agreement_row(name, agreement, target):
    target_text = f"{target:.0e}".replace("e-0", "e-")
    return [
        f"predict vs model_.predict, {name} net, max abs difference / y std",
        f"{agreement['relative']:.1e}",
        f"max abs difference {agreement['max_abs']:.1e}, {agreement['rows']} rows",
        "",
        f"<= {target_text} (float32 round-off)",
        verdict(agreement["relative"] <= target),
    ]


def predict_row(name, net, call, one_row_s):
    seconds, size = dict(call["seconds"]), call["rows"]
    ours, theirs = seconds.pop("skdropbn"), seconds["model.predict"]
    target, result = "", ""
    if size == 1:
        target, result = f"<= {one_row_s * 1e3:g} ms", verdict(ours <= one_row_s)
    elif size > 1000:
        target, result = ">= model.predict's rows/s", verdict(ours <= theirs)
    return [
        f"predict, {name} net ({net_shape(net)}), "
        f"{size:,} row{'s' if size > 1 else ''}",
        fmt_time(ours),
        "; ".join(f"{k} {fmt_time(v)}" for k, v in seconds.items()),
        faster(theirs, ours) + " than model.predict",
        target,
        result,
    ]


def predict_rows(results):
    targets, rows = results["targets"], []
    for name, record in results["predict"].items():
        rows.append(
            agreement_row(name, record["agreement"], targets["predict_agreement"])
        )
        rows += [
            predict_row(name, record["net"], call, targets["predict_one_row_s"])
            for call in record["calls"]
        ]
    return rows


def memory_row(memory, target):
    growth = dict(memory["rss"])
    ours = growth.pop("skdropbn")["mb_per_fit"]
    baselines = "; ".join(
        f"{k} {g['mb_per_fit']:.2f} MB"
        + (f" ({g['fits']} fits)" if g["fits"] != memory["fits"] else "")
        for k, g in growth.items()
    )
    return [
        f"RSS growth per fit, {memory['fits']} fits after {memory['warmup']} "
        f"warm-up, {net_shape(memory['net'])}, {memory['epochs']} epochs",
        f"{ours:.2f} MB",
        baselines,
        "",
        f"<= {target:g} MB/fit",
        verdict(ours <= target),
    ]


def import_row(imports, target):
    seconds = imports["seconds"]
    ok = seconds["skdropbn"] <= target and imports["loaded"] == ["none"]
    return [
        "import skdropbn on top of numpy + sklearn.base + sklearn.utils "
        f"(median of {imports['runs']} fresh interpreters)",
        fmt_time(seconds["skdropbn"]),
        f"numpy + sklearn.base + sklearn.utils {fmt_time(seconds['sklearn'])}; "
        f"import {imports['backend_module']} + keras "
        f"{fmt_time(seconds['backend'] + seconds['keras'])}",
        "",
        f"<= {target:g} s, loads no backend",
        verdict(ok),
    ]


def closing_notes(results):
    backend = results["machine"]["backend"]
    notes = [NOTE_LOADED.format(loaded=", ".join(results["imports"]["loaded"]))]
    if results["grid"]["baseline"] != "scikeras":
        where = "" if backend == "tensorflow" else f" under the {backend} backend"
        notes.append(NOTE_NO_SCIKERAS.format(where=where))
    notes.append(NOTE_TOTAL.format(seconds=results["total_seconds"]))
    notes.append(NOTE_JSON)
    return notes


# -- the report ------------------------------------------------------------------
def table(rows):
    return [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def render(results):
    """The Markdown report of one run's results dict (``speed-<backend>.json``)."""
    targets = results["targets"]
    rows, notes = training(results)
    rows.append(grid_row(results["grid"], targets["grid_vs_wrapper"]))
    rows += predict_rows(results)
    rows.append(memory_row(results["memory"], targets["rss_mb_per_fit"]))
    rows.append(import_row(results["imports"], targets["import_s"]))
    notes += closing_notes(results)
    lines = [*header(results), *table(rows), "", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"
