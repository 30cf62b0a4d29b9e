"""Calibrated uncertainty: what makes ``predict(return_std=True)`` cover 90%.

Monte-Carlo dropout's spread (``skdropbn._inference.mc_moments``) is known to
be too narrow on its own; ``calibrate_std`` fixes a noise level and a scale
on the early-stopping validation rows, which the fit has not trained on.
"""

import numpy as np


def calibrate_std(resid, mc_var, w_val):
    """Noise level and scale that make 90% intervals cover 90% of held-out rows.

    Dropout's spread alone is known to be too narrow: it ignores the noise
    in ``y``. Per output, the held-out residuals of the deterministic
    prediction fix a noise variance ``s2`` so that the weighted 90%
    quantile of ``|residual| / sqrt(mc_var + s2)`` is 1.645; if
    dropout's spread alone is already too wide, it is scaled down instead.

    ``resid`` are the absolute residuals of the deterministic prediction on
    the held-out rows (standardised target scale), ``mc_var`` dropout's
    variance there, ``w_val`` the rows' weights. Returns ``(noise_var,
    scale)``, one value of each per output.
    """
    z90 = 1.6448536269514722
    # Split-conformal finite-sample correction: the ceil((n+1) 0.9)/n
    # quantile of n held-out rows covers a new row with probability 0.9.
    level = min(1.0, np.ceil((len(resid) + 1) * 0.9) / len(resid))
    noise_var = np.zeros(resid.shape[1])
    scale = np.ones(resid.shape[1])
    for j in range(resid.shape[1]):
        r, v = resid[:, j], mc_var[:, j]

        def q90(s2, r=r, v=v):
            return _weighted_quantile(r / np.sqrt(v + s2 + 1e-12), w_val, level)

        if q90(0.0) <= z90:
            scale[j] = q90(0.0) / z90 if q90(0.0) > 0 else 1.0
            continue
        lo, hi = 0.0, max(float(np.max(r**2)), 1e-12)
        for _ in range(60):  # bisection: q90 decreases as s2 grows
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if q90(mid) > z90 else (lo, mid)
        noise_var[j] = hi
    return noise_var, scale


def _weighted_quantile(values, weights, q):
    """The ``q`` quantile of ``values`` under ``weights`` (inverted CDF)."""
    order = np.argsort(values)
    cdf = np.cumsum(weights[order])
    idx = np.searchsorted(cdf, q * cdf[-1])
    return float(values[order][min(idx, len(values) - 1)])
