"""What both displays share: matplotlib, imported on demand, and their axes.

matplotlib is optional, so it is imported here only when something is drawn:
``import skdropbn`` does not load it.
"""


def _pyplot(caller):
    """``matplotlib.pyplot``, or an ImportError that names the extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install "
            "it with: pip install matplotlib (or the plot extra)"
        ) from exc
    return plt


def _axes(plt, ax):
    """``ax``, or the axes of a new figure when None."""
    if ax is None:
        _, ax = plt.subplots()
    return ax
