"""The Kaggle lesson's red-wine network, rebuilt with DropBNRegressor.

Three ``Dense(1024, relu)`` blocks, each followed by ``Dropout(0.3)`` and
``BatchNormalization()``, trained with Adam on mean absolute error, batch 256,
100 epochs; then the learning curves, as in the lesson::

    python examples/red_wine_lesson.py [path/to/red-wine.csv] [--plot curves.png]

The data is the red wine quality table (UCI, Cortez et al. 2009); by default it
is read from ``../shared/data/red-wine.csv``.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from skdropbn import DropBNRegressor

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "red-wine.csv"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", default=str(DEFAULT))
    parser.add_argument("--plot", help="save the learning curves to this PNG file")
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    if not Path(args.csv).exists():
        sys.exit(f"red wine data not found at {args.csv}; pass its path.")

    red_wine = pd.read_csv(args.csv)
    X, y = red_wine.drop(columns="quality"), red_wine["quality"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0
    )
    # The lesson's model in one line. validation_fraction and a patience of
    # `epochs` keep a validation curve without stopping early, as the lesson
    # trains for all 100 epochs.
    model = DropBNRegressor(
        n_layers=3, units=1024, dropout=0.3, loss="mae", batch_size=256,
        epochs=args.epochs, validation_fraction=0.3, n_iter_no_change=args.epochs,
        random_state=0, verbose=1,
    )  # fmt: skip
    model.fit(X_train, y_train)

    history = pd.DataFrame(model.history_)
    print(history.iloc[:: max(1, len(history) // 10)].round(4).to_string())
    print(
        f"best epoch {model.best_epoch_}, "
        f"validation MAE (standardised target) {history['val_loss'].min():.4f}"
    )
    test_mae = (model.predict(X_test) - y_test).abs().mean()
    print(f"test MAE: {test_mae:.4f} (quality points)")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = history.loc[:, ["loss", "val_loss"]].plot(title="red wine, lesson model")
        ax.set_xlabel("epoch")
        ax.set_ylabel("MAE (standardised target)")
        ax.figure.savefig(args.plot, dpi=100)
        print(f"learning curves saved to {args.plot}")


if __name__ == "__main__":
    main()
