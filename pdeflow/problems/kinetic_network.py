"""Heavy-ball training of a mean-field two-layer network: a kinetic equation on its parameters.

Gradient descent with momentum on the risk R[ρ] = (1/2n) Σ_k (f(x_k; ρ) − y_k)² of the network
f(x; ρ) = ∫ φ(θ; x) dρ(θ), in mean-field scaling, is (as the step falls) damped Newton dynamics
θ'' = −∇θξ[ρ](θ) − γθ' with ξ = δR/δρ = (1/n) Σ_k (f(x_k; ρ) − y_k) φ(θ; x_k); as the width grows
the neurons' law f(θ, v) follows the Vlasov–Fokker–Planck equation

    ∂t f + v·∇θ f − ∇θξ[ρ]·∇v f = γ ∇v·(v f) + γT Δv f,   ρ = ∫ f dv

(T > 0: underdamped Langevin, noisy training). Its free energy ∫ f |v|²/2 + R[ρ] + T ∫ f log f
decreases. Two neurons:

- ``parameters=("w",)``: φ(w; x) = σ(w x), one inner weight per neuron: phase space (w, v) is a
  2D grid (method "kinetic") or particles;
- ``parameters=("a", "w")``: φ(a, w; x) = a σ(w x): phase space R⁴, particles only
  (method "kinetic_particles": heavy-ball gradient descent on a width-m network).
"""

from __future__ import annotations

import numpy as np

from ..activations import activation as get_activation
from ..energy import FreeEnergy, Potential
from ..errors import PdeflowError
from ..grid import Grid
from .kinetic import kinetic_problem


class NetworkForce:
    """−∇θξ[ρ] of the network's risk on a grid's θ axis (``theta = (w,)``) and at particles (the
    interface of :class:`~pdeflow.problems.kinetic.PotentialForce`)."""

    interacting = True

    def __init__(self, x, y, sigma, sigma_prime, with_a: bool):
        self.x, self.y, self.n = x, y, y.size
        self.sigma, self.sigma_prime, self.with_a = sigma, sigma_prime, with_a
        self._grid = None

    def _features_on(self, theta):
        """σ(w_i x_k) and σ'(w_i x_k) x_k on the θ axis, (n, n_θ), computed once."""
        if self._grid is None or self._grid[0] is not theta:
            z = np.outer(self.x, theta)
            self._grid = (theta, self.sigma(z), self.sigma_prime(z) * self.x[:, None])
        return self._grid[1:]

    def outputs_on_grid(self, theta, rho, h):
        return self._features_on(theta[0])[0] @ rho * h

    def on_grid(self, theta, rho):
        (w,) = theta
        phi, dphi = self._features_on(w)
        residual = phi @ rho * (w[1] - w[0]) - self.y
        return -(residual @ dphi)[None] / self.n

    def energy_on_grid(self, theta, rho, h):
        return 0.5 * float(np.mean((self.outputs_on_grid(theta, rho, h) - self.y) ** 2))

    def outputs_at(self, Theta, w):
        a, z = self._a_and_z(Theta)
        return self.sigma(z) @ (w * a)

    def _a_and_z(self, Theta):
        a = Theta[:, 0] if self.with_a else np.ones(Theta.shape[0])
        return a, np.outer(self.x, Theta[:, -1])

    def at(self, Theta, w):
        a, z = self._a_and_z(Theta)
        s = self.sigma(z)
        residual = s @ (w * a) - self.y
        dw = -a * (residual @ (self.sigma_prime(z) * self.x[:, None])) / self.n
        if not self.with_a:
            return dw[:, None]
        return np.stack([-(residual @ s) / self.n, dw], axis=1)

    def energy_at(self, Theta, w):
        return 0.5 * float(np.mean((self.outputs_at(Theta, w) - self.y) ** 2))


def kinetic_mean_field_network(x, y, activation="tanh", parameters=("w",), grid: Grid | None = None,
                               f0=None, gamma: float = 1.0, T: float = 0.0, theta0=None):
    """Momentum training of a mean-field network as a kinetic problem (module docstring).

    Parameters
    ----------
    x, y : arrays (n,)
        One-dimensional inputs and their targets.
    activation : "relu" | "tanh" | "sigmoid" | "linear" | (σ, σ')
    parameters : ("w",) or ("a", "w")
        The neuron's parameters θ.
    grid : Grid, optional
        Phase space (w, v), for ``parameters=("w",)``; with ``f0`` on it.
    gamma, T : float
        Friction and temperature (T = 0: heavy ball without noise).
    theta0 : array (m, 2p) or callable, optional
        Initial neurons (θ, v) of particle runs, or a sampler ``(m, rng) -> (m, 2p)``.

    Examples
    --------
    >>> import numpy as np, pdeflow as pf
    >>> x = np.linspace(-2.0, 2.0, 16)
    >>> grid = pf.Grid([(-1.0, 4.0), (-3.0, 3.0)], 50)
    >>> f0 = pf.gaussian(grid, (0.5, 0.0), 0.05)
    >>> p = pf.problems.kinetic_mean_field_network(x, np.tanh(2 * x), grid=grid, f0=f0)
    >>> traj = pf.solve(p, 5.0, method="kinetic", snapshots=2, progress=False)
    >>> risk = traj.diagnostics["potential_energy"]
    >>> bool(risk[-1] < 0.2 * risk[0])  # 0.090 -> 0.012
    True
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.size != y.size or x.size == 0 or not np.all(np.isfinite(x) & np.isfinite(y)):
        raise PdeflowError(f"x has {x.size} values and y {y.size}; give n finite inputs and "
                           "n targets (one-dimensional inputs)")
    parameters = tuple(parameters)
    if parameters not in (("w",), ("a", "w")):
        raise PdeflowError(f"parameters must be ('w',) or ('a', 'w'), got {parameters}")
    if grid is not None and parameters != ("w",):
        raise PdeflowError("the grid view of the kinetic network has phase space (w, v); "
                           "parameters=('a', 'w') (phase space R⁴) runs with particles, grid=None")
    if grid is None and theta0 is None:
        raise PdeflowError("kinetic_mean_field_network needs grid= and f0= (phase space (w, v)), "
                           "or theta0= (initial neurons (θ, v), or a sampler) for particles")
    name, sigma, sigma_prime = get_activation(activation)
    force = NetworkForce(x, y, sigma, sigma_prime, with_a=parameters == ("a", "w"))
    energy = FreeEnergy(Potential(lambda *theta: 0.0 * theta[0], name="risk"))  # described only
    problem = kinetic_problem(
        "kinetic_mean_field_network", grid, f0, force, gamma, T, energy, particles0=theta0,
        parameters={"activation": name, "parameters": list(parameters), "n_data": int(x.size),
                    "risk_constant": 0.5 * float(np.mean(y**2))},
        axes=("w", "v"), coordinates=("w", "v") if parameters == ("w",) else ("a", "w", "v_a", "v_w"),
    )
    problem.data = (x, y)
    return problem
