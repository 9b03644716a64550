"""Principal components of states, to draw trajectories and fixed points on the same axes."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class PCA:
    """Principal axes of a cloud of states.

    Attributes:
        components: `(k, units)`, orthonormal rows, by decreasing variance; each row's
            largest entry (in absolute value) is positive, so the axes do not flip sign
            between runs of the same data.
        mean: `(units,)`, subtracted before projecting.
        explained_variance: `(k,)`, the variance along each axis.
        explained_variance_ratio: `(k,)`, its share of the total variance.
    """

    components: np.ndarray
    mean: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray

    def project(self, states: np.ndarray) -> np.ndarray:
        """Any states `(..., units)` on these axes: `(..., k)`."""
        return (np.asarray(states, np.float64) - self.mean) @ self.components.T


def pca(states: np.ndarray, k: int = 3) -> PCA:
    """The first `k` principal components of `states` `(..., units)` (NumPy's SVD).

    Every leading axis counts as samples, so `pca(trajectories.hidden, 3)` takes each
    sequence's every step as a point.

    Example:

    >>> axes = pca(np.random.default_rng(0).normal(size=(100, 5)), k=2)
    >>> axes.project(np.zeros((7, 5))).shape
    (7, 2)

    Raises:
        ValueError: if `k` is not between 1 and the number of units and of points.
    """
    points = np.asarray(states, np.float64)
    points = points.reshape(-1, points.shape[-1])
    if not isinstance(k, int) or not 1 <= k <= min(points.shape):
        raise ValueError(f"k must be between 1 and {min(points.shape)} for {len(points)} "
                         f"points of {points.shape[-1]} units. Received: k={k!r}")
    mean = points.mean(axis=0)
    _, singular, axes = np.linalg.svd(points - mean, full_matrices=False)
    axes = axes[:k]
    axes *= np.sign(axes[np.arange(k), np.abs(axes).argmax(axis=1)])[:, None]
    variance = singular**2 / max(len(points) - 1, 1)
    total = variance.sum()
    return PCA(axes, mean, variance[:k],
               variance[:k] / total if total > 0 else np.zeros(k))
