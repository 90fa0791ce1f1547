"""igmtf-sklearn: Qlib's IGMTF stock-return model as a scikit-learn estimator."""

__version__ = "0.1.0"
