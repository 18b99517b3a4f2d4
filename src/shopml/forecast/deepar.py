"""A global DeepAR-style forecaster in torch: a GRU over each series' recent history with a
negative-binomial likelihood (Salinas et al., 2020), giving quantiles by sampling paths.

At every period the network reads the previous period's units divided by the series' scale
(``1 + mean of the context``), the log scale, the period's calendar (month and week of year as
sine/cosine) and the exogenous values, and outputs the mean ``mu`` (times the scale) and the
dispersion ``alpha`` of a negative binomial for the period's units. Training maximises the
likelihood over random windows (``context_length`` + ``max_horizon`` periods) of every series,
with teacher forcing; forecasting runs the GRU over the last ``context_length`` periods, then
draws ``num_samples`` paths, feeding each sampled value back in, and reads the point forecast
(mean or median of the paths) and the quantiles off them. The number of epochs is chosen on the
last ``max_horizon`` periods of the training data (the best epoch's weights are kept).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.forecast.base import (
    QUANTILES,
    ForecastModel,
    Panel,
    history_from_state,
    history_state,
    qcol,
)

__all__ = ["DeepARForecaster"]


def _calendar(grid: pd.DatetimeIndex) -> np.ndarray:
    m = grid.month.to_numpy(float)
    w = grid.isocalendar().week.to_numpy(float)
    return np.stack(
        [
            np.sin(2 * np.pi * m / 12),
            np.cos(2 * np.pi * m / 12),
            np.sin(2 * np.pi * w / 52.18),
            np.cos(2 * np.pi * w / 52.18),
        ],
        axis=1,
    )


def _net(n_inputs: int, hidden: int, layers: int, dropout: float) -> Any:
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.GRU(
                n_inputs, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
            )
            self.head = nn.Linear(hidden, 2)

        def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
            out, h = self.rnn(x, h0)
            p = self.head(out)
            mu = nn.functional.softplus(p[..., 0]) + 1e-4
            alpha = nn.functional.softplus(p[..., 1]) + 1e-4
            return mu, alpha, h

    return Net()


def _nb_nll(y, mu, alpha):
    """Negative log-likelihood of the negative binomial with mean ``mu`` and dispersion ``alpha``
    (variance ``mu + alpha mu^2``)."""
    import torch

    r = 1.0 / alpha
    return -(
        torch.lgamma(y + r)
        - torch.lgamma(r)
        - torch.lgamma(y + 1)
        + r * torch.log(r / (r + mu))
        + y * torch.log(mu / (r + mu))
    )


class DeepARForecaster(ForecastModel):
    """GRU + negative binomial, global over series (see the module docstring)."""

    alias: ClassVar[str] = "DeepAR"

    def __init__(
        self,
        max_horizon: int = 8,
        context_length: int = 26,
        hidden_size: int = 40,
        num_layers: int = 2,
        dropout: float = 0.1,
        epochs: int = 30,
        windows_per_epoch: int = 2048,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        num_samples: int = 200,
        point: Literal["mean", "median"] = "median",
        seed: int = 0,
    ) -> None:
        self.max_horizon = max_horizon
        self.context_length = context_length
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.epochs = epochs
        self.windows_per_epoch = windows_per_epoch
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.num_samples = num_samples
        self.point = point
        self.seed = seed

    # inputs ------------------------------------------------------------------------------
    def _inputs(self, panel: Panel) -> tuple[np.ndarray, np.ndarray]:
        """Per-period covariates ``[S, T, k]`` (calendar + standardised exogenous) and the
        observed mask."""
        S, T = panel.Y.shape
        cal = np.broadcast_to(_calendar(panel.grid)[None], (S, T, 4))
        xs = [cal]
        for c in self.exog_:
            x = panel.X[c]
            mu, sd = self.x_stats_[c]
            xs.append(np.nan_to_num((x - mu) / sd)[..., None])
        return np.concatenate(xs, axis=2).astype(np.float32), ~np.isnan(panel.Y)

    def _windows(self, Y: np.ndarray, cov: np.ndarray, s: np.ndarray, start: np.ndarray):
        """Input tensor, target and scale of windows beginning at ``start`` for series ``s``."""
        L = self.context_length + self.max_horizon
        idx = start[:, None] + np.arange(L)[None]
        y = Y[s[:, None], idx]
        obs = ~np.isnan(y)
        y0 = np.nan_to_num(y)
        ctx = obs[:, : self.context_length]
        scale = 1.0 + (y0[:, : self.context_length] * ctx).sum(1) / np.maximum(ctx.sum(1), 1)
        prev = np.concatenate([np.zeros((len(s), 1)), y0[:, :-1]], axis=1) / scale[:, None]
        feats = np.concatenate(
            [
                prev[..., None],
                np.broadcast_to(np.log(scale)[:, None, None], (len(s), L, 1)),
                cov[s[:, None], idx],
            ],
            axis=2,
        ).astype(np.float32)
        return feats, y0.astype(np.float32), obs, scale.astype(np.float32)

    def _fit(self, df: pd.DataFrame) -> None:
        import torch

        from shopml.core.torch_common import module_to_numpy, seeded

        H, C = int(self.max_horizon), int(self.context_length)
        if H < 1 or C < 1:
            raise ValidationError("max_horizon and context_length must be >= 1")
        self.history_ = df[["unique_id", "ds", "y", *self.exog_]].reset_index(drop=True)
        self.x_stats_ = {c: (float(df[c].mean()), float(df[c].std() or 1.0)) for c in self.exog_}
        panel = Panel(df, self.freq_, self.exog_)
        # pad C periods in front so that every series has a full context from its start
        Y = np.hstack([np.full((len(panel.ids), C), np.nan), panel.Y])
        cov, _ = self._inputs(panel)
        cov = np.concatenate([np.repeat(cov[:, :1], C, axis=1), cov], axis=1)
        first, last = panel.first + C, panel.last + C
        L = C + H
        # a window's prediction part must end by the series' last period; training windows end
        # at least H periods earlier than validation windows (which end at the last period)
        lo = np.maximum(first - C + 1, 0)
        hi_train = last - H - L + 1
        ok = hi_train >= lo
        if not ok.any():
            raise ValidationError(
                f"every series is too short for DeepAR with max_horizon={H} (need > {2 * H} periods)"
            )
        n_inputs = 2 + cov.shape[2]
        with seeded(self.seed) as rng:
            net = _net(n_inputs, self.hidden_size, self.num_layers, self.dropout)
            opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
            vs = np.arange(len(panel.ids))[last - L + 1 >= 0]
            vx, vy, vobs, vscale = self._windows(Y, cov, vs, last[vs] - L + 1)
            vmask = vobs.copy()
            vmask[:, :C] = False
            vt = [torch.from_numpy(a) for a in (vx, vy, vmask.astype(np.float32), vscale)]
            cand = np.nonzero(ok)[0]
            weights = (hi_train[cand] - lo[cand] + 1).astype(float)
            weights /= weights.sum()
            best, best_state, self.val_losses_ = np.inf, module_to_numpy(net), []
            for _ in range(int(self.epochs)):
                s = rng.choice(cand, size=self.windows_per_epoch, p=weights)
                st = lo[s] + (rng.random(len(s)) * (hi_train[s] - lo[s] + 1)).astype(int)
                x, y, obs, scale = self._windows(Y, cov, s, st)
                # windows' padded (unobserved) periods carry no loss
                xt, yt = torch.from_numpy(x), torch.from_numpy(y)
                mt, sc = torch.from_numpy(obs.astype(np.float32)), torch.from_numpy(scale)
                net.train()
                perm = torch.from_numpy(rng.permutation(len(s)))
                for b in range(0, len(s), self.batch_size):
                    i = perm[b : b + self.batch_size]
                    mu, alpha, _ = net(xt[i])
                    nll = _nb_nll(yt[i], mu * sc[i, None], alpha)
                    loss = (nll * mt[i]).sum() / mt[i].sum().clamp(min=1)
                    opt.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
                    opt.step()
                net.eval()
                with torch.no_grad():
                    mu, alpha, _ = net(vt[0])
                    v = float(

                            (_nb_nll(vt[1], mu * vt[3][:, None], alpha) * vt[2]).sum()
                            / vt[2].sum().clamp(min=1)

                    )
                self.val_losses_.append(v)
                if v < best:
                    best, best_state = v, module_to_numpy(net)
        self.weights_ = best_state
        self.best_epoch_ = int(np.argmin(self.val_losses_)) + 1
        self.n_inputs_ = n_inputs

    def _module(self) -> Any:
        from shopml.core.torch_common import numpy_to_module

        net = _net(self.n_inputs_, self.hidden_size, self.num_layers, self.dropout)
        numpy_to_module(net, self.weights_)
        return net.eval()

    def _predict(self, h: int, X_df: pd.DataFrame | None) -> pd.DataFrame:
        import torch

        from shopml.core.torch_common import seeded

        C = int(self.context_length)
        panel = Panel(self.history_, self.freq_, self.exog_, extend=h)
        if self.exog_ and X_df is not None:
            panel.set_exog(X_df, self.exog_)
        cov, _ = self._inputs(panel)
        S = len(panel.ids)
        Y = np.hstack([np.full((S, C), np.nan), panel.Y])
        cov = np.concatenate([np.repeat(cov[:, :1], C, axis=1), cov], axis=1)
        last = panel.last + C
        idx = (last - C + 1)[:, None] + np.arange(C)[None]
        y = Y[np.arange(S)[:, None], idx]
        obs = ~np.isnan(y)
        y0 = np.nan_to_num(y)
        scale = 1.0 + (y0 * obs).sum(1) / np.maximum(obs.sum(1), 1)
        prev = np.concatenate([np.zeros((S, 1)), y0[:, :-1]], axis=1) / scale[:, None]
        ctx = np.concatenate(
            [
                prev[..., None],
                np.broadcast_to(np.log(scale)[:, None, None], (S, C, 1)),
                cov[np.arange(S)[:, None], idx],
            ],
            axis=2,
        ).astype(np.float32)
        net = self._module()
        n = int(self.num_samples)
        with torch.no_grad(), seeded(self.seed + 1):
            _, _, hstate = net(torch.from_numpy(ctx))
            hstate = hstate.repeat_interleave(n, dim=1)
            last_y = torch.from_numpy(np.repeat(y0[:, -1] / scale, n).astype(np.float32))
            sc = torch.from_numpy(np.repeat(scale, n).astype(np.float32))
            paths = []
            for k in range(1, h + 1):  # h steps, each batched over series x samples
                t = last + k
                step_cov = torch.from_numpy(
                    np.repeat(cov[np.arange(S), np.clip(t, 0, cov.shape[1] - 1)], n, axis=0)
                )
                x = torch.cat([last_y[:, None], torch.log(sc)[:, None], step_cov], dim=1)[
                    :, None, :
                ]
                mu, alpha, hstate = net(x, hstate)
                mu, alpha = mu[:, 0] * sc, alpha[:, 0]
                # negative binomial as a gamma-Poisson mixture
                rate = torch.distributions.Gamma(1.0 / alpha, 1.0 / (alpha * mu)).sample()
                draw = torch.poisson(rate)
                paths.append(draw.numpy())
                last_y = draw / sc
        P = np.stack(paths, axis=1).reshape(S, n, h)
        out = pd.DataFrame(
            {
                "unique_id": np.repeat(panel.ids, h),
                "ds": panel.grid[(panel.last[:, None] + np.arange(1, h + 1)[None]).ravel()],
            }
        )
        qs = np.quantile(P, QUANTILES, axis=1)  # [q, S, h]
        for i, tau in enumerate(QUANTILES):
            out[qcol(tau)] = qs[i].ravel()
        out["point"] = (
            P.mean(axis=1).ravel() if self.point == "mean" else np.median(P, axis=1).ravel()
        )
        return out

    def fitted_params(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch_,
            "validation_nll": [round(v, 4) for v in self.val_losses_],
        }

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**history_state(self.history_, self.exog_), **self.weights_}

    def _meta(self) -> dict[str, Any]:
        return {
            "freq": self.freq_,
            "exog": list(self.exog_),
            "x_stats": self.x_stats_,
            "n_inputs": self.n_inputs_,
            "best_epoch": self.best_epoch_,
            "val_losses": self.val_losses_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.freq_, self.exog_ = meta["freq"], tuple(meta["exog"])
        self.x_stats_ = {k: tuple(v) for k, v in meta["x_stats"].items()}
        self.n_inputs_, self.best_epoch_ = meta["n_inputs"], meta["best_epoch"]
        self.val_losses_ = meta["val_losses"]
        self.history_ = history_from_state(arrays, self.exog_)
        self.weights_ = {k: v for k, v in arrays.items() if k.startswith("module.")}
        self.ids_ = np.array(sorted(self.history_["unique_id"].unique()), dtype=str)
        self.last_ds_ = self.history_.groupby("unique_id")["ds"].max().reindex(self.ids_).to_numpy()
