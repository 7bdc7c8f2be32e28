"""The MCR model: any registered SSL method plus CompMod, trained by the bi-level step of
Guo et al., "Self-Supervised Learning with Meta Comprehensive Regularization" (AAAI 2024).

One :meth:`MCRModel.train_step` per iteration:

1. **Forward once** (the level-1 forward): ``h = encode(views)``, ``z = project(h)``, ``L_ssl``,
   ``Z_hat = CompMod(concat(sg(h1), sg(h2)))``, ``L_mcr(z, sg(Z_hat))`` and ``L_comp(Z_hat)``.
2. **Level 1** (xi fixed): ``g = grad_w(L_ssl + lambda1 L_mcr)``; the method's optimizer steps on ``g``.
3. **Level 2** (w fixed): the hypergradient of ``L_ssl(w - S g(xi)) + lambda2 L_comp(xi)``
   (:mod:`mcr_train.mcr.hypergrad`), computed from the pre-step ``w`` and the same ``g``, with the
   lookahead's per-parameter steps ``S`` from :mod:`mcr_train.mcr.lookahead`; CompMod's optimizer steps
   on it.

The ``joint`` ablation replaces 2-3 by one step of all parameters on
``L_ssl + lambda1 L_mcr + lambda2 L_comp`` with ``Z_hat`` not detached in ``L_mcr``.

The optimizer may be an ``OptimWrapperDict`` with keys ``model`` and ``compmod``, or one ``OptimWrapper``
over :meth:`parameter_groups` (method groups plus ``compmod`` groups); in the latter case each level
steps with the other level's gradients set to ``None``, which SGD and LARS skip. Extra forwards (the
lookahead, JVP, finite differences) run through ``torch.func.functional_call`` on cloned BatchNorm
statistics, so the running statistics move exactly as in the base method, and run in fp32 with
autocast disabled (AMP affects only the level-1 forward; ``fp16`` loss scaling is not supported).
"""

from __future__ import annotations

import torch
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from torch import Tensor, nn
from torch.func import functional_call

from mcr_train.errors import ConfigError, TrainingError
from mcr_train.mcr.compmod import CompMod, fusion_in_dim, fusion_input
from mcr_train.mcr.distributed import average_across_ranks
from mcr_train.mcr.hypergrad import Level2Problem, at_least_fp32, hypergradient
from mcr_train.mcr.lookahead import lookahead_step_sizes
from mcr_train.mcr.losses import comp_loss, mcr_loss
from mcr_train.mcr.settings import MCRSettings
from mcr_train.methods.base import split_decay
from mcr_train.methods.gather import gather_no_grad, gather_with_grad, world_size
from mcr_train.methods.mec import lamda_inv_schedule, mec_lambda


def split_optim_wrappers(optim_wrapper) -> tuple[OptimWrapper, OptimWrapper]:
    """``(model, compmod)`` wrappers: the two entries of an ``OptimWrapperDict``, or one wrapper twice."""
    if isinstance(optim_wrapper, OptimWrapperDict):
        missing = [k for k in ("model", "compmod") if k not in optim_wrapper.optim_wrappers]
        if missing:
            raise ConfigError(f"the MCR optimizer dict lacks {missing}; give it keys 'model' and 'compmod'")
        return optim_wrapper["model"], optim_wrapper["compmod"]
    return optim_wrapper, optim_wrapper


def _check_amp(optim_wrapper: OptimWrapper) -> None:
    if isinstance(optim_wrapper, AmpOptimWrapper) and optim_wrapper.cast_dtype == torch.float16:
        raise ConfigError("amp='fp16' is not supported with MCR (its gradients bypass the loss scaler); "
                          "use amp='bf16' or amp=None")


def _step(optim_wrapper: OptimWrapper) -> None:
    if isinstance(optim_wrapper, AmpOptimWrapper):  # bf16: no loss scaling, so step the optimizer itself
        if optim_wrapper.clip_grad_kwargs:
            optim_wrapper._clip_grad()
        optim_wrapper.optimizer.step()
    else:
        optim_wrapper.step()


class MCRModel(BaseModel):
    """Wraps an SSL method (the base contract of :mod:`mcr_train.methods.base`) with CompMod and MCR.

    Args:
        method: a built method (``SSLMethod``).
        regularizer: the config block ``dict(type='MCR', ...)`` (see :class:`MCRSettings`).
    """

    def __init__(self, method: nn.Module, regularizer: dict | MCRSettings | None = None):
        super().__init__(data_preprocessor=method.data_preprocessor)
        self.method = method
        s = regularizer if isinstance(regularizer, MCRSettings) else MCRSettings.from_config(regularizer)
        self.settings = s
        in_dim = fusion_in_dim(s.fusion, method.feature_dim, method.embed_dim)
        cm = dict(s.compmod)
        if cm.get("in_dim") not in (None, in_dim):
            source = "2 x encoder feature_dim" if s.fusion == "representation" else "2 x projector out_dim"
            raise ConfigError(f"regularizer.compmod.in_dim={cm['in_dim']} does not fit the backbone: fusion="
                              f"'{s.fusion}' gives {source} = {in_dim}; set in_dim={in_dim} or remove it")
        if cm.get("out_dim") not in (None, method.embed_dim):
            raise ConfigError(f"regularizer.compmod.out_dim={cm['out_dim']} must equal the projector's out_dim "
                              f"({method.embed_dim}) so Z_hat can meet the view embeddings; remove out_dim")
        self.compmod = CompMod(in_dim, method.embed_dim, cm["hidden"], cm["depth"], cm["norm"])
        self.iteration, self.iters_per_epoch = 0, 1.0
        self._bn_stats = [f"method.{m}.{b}" if m else f"method.{b}"
                          for m, mod in method.named_modules() if isinstance(mod, nn.modules.batchnorm._BatchNorm)
                          for b, _ in mod.named_buffers(recurse=False)]

    # ---- what the engine and the export see -------------------------------------------------------
    @property
    def backbone(self) -> nn.Module:
        """The method's encoder: the only module that is exported (CompMod never is)."""
        return self.method.backbone

    @property
    def backbone_cfg(self) -> dict:
        return self.method.backbone_cfg

    @property
    def feature_dim(self) -> int:
        return self.method.feature_dim

    @property
    def embed_dim(self) -> int:
        return self.method.embed_dim

    def regularizer_info(self) -> dict:
        return self.settings.as_dict()

    def parameter_groups(self) -> list[dict]:
        """The method's groups plus CompMod's (``compmod``, ``compmod.bias_norm``)."""
        decay, no_decay = split_decay(list(self.compmod.named_parameters()))
        return [*self.method.parameter_groups(), {"name": "compmod", "params": decay},
                {"name": "compmod.bias_norm", "params": no_decay, "weight_decay": 0.0, "lars_exclude": True}]

    def compmod_parameter_groups(self) -> list[dict]:
        return self.parameter_groups()[-2:]

    def set_progress(self, iteration: int, max_iters: int, iters_per_epoch: float) -> None:
        self.method.set_progress(iteration, max_iters, iters_per_epoch)
        self.iteration, self.iters_per_epoch = iteration, iters_per_epoch

    def after_train_step(self) -> None:
        self.method.after_train_step()

    # ---- pieces of the step -------------------------------------------------------------------------
    def method_parameters(self) -> tuple[list[str], list[nn.Parameter]]:
        """Names (in this module) and tensors of the method's trainable parameters ``w``."""
        ids = {id(p) for group in self.method.parameter_groups() for p in group["params"]}
        named = [(f"method.{n}", p) for n, p in self.method.named_parameters() if id(p) in ids]
        return [n for n, _ in named], [p for _, p in named]

    def lamda_inv(self, batch: int) -> float:
        """MEC's ``1/lambda`` for ``L_comp``/``L_mcr`` with its warm-up from ``8/lambda``."""
        lam = mec_lambda(self.method.embed_dim, batch, self.settings.eps_sq)
        warmup = self.settings.lamda_warmup_epochs * self.iters_per_epoch
        return lamda_inv_schedule(self.iteration, lam, warmup)

    def mcr_head(self, lamda_inv: float):
        s = self.settings
        return lambda zs, z_hat: mcr_loss(zs, z_hat, s.mcr_loss, lamda_inv, s.order)

    def call_with(self, params: dict[str, Tensor], mode: str, views: list[Tensor]):
        """Run ``forward(views, mode)`` with ``params`` swapped in and BatchNorm statistics cloned."""
        buffers = dict(self.named_buffers())
        state = {**{n: buffers[n].clone() for n in self._bn_stats}, **params}
        return functional_call(self, state, (views,), {"mode": mode})

    def level_one(self, views: list[Tensor]) -> dict:
        """The single full forward of the step and every loss built on it."""
        hs = self.method.encode(views)
        zs = self.method.project(hs)
        ssl = self.method.ssl_loss(hs, zs, views)
        lamda_inv = self.lamda_inv(hs[0].shape[0] * world_size())
        head = self.mcr_head(lamda_inv)
        joint = self.settings.optimization == "joint"
        # CompMod and the coding-rate terms run in fp32 even under AMP: the informative terms of the Taylor
        # series are ~1e-3 of the first one, below bf16 resolution, and xi's hypergradient is built on them.
        with torch.autocast(device_type=hs[0].device.type, enabled=False):
            z_hat = self.compmod(at_least_fp32(fusion_input(hs, zs, self.settings.fusion)))
            comp = comp_loss(gather_with_grad(at_least_fp32(z_hat)), lamda_inv, self.settings.order)
            target = gather_with_grad(at_least_fp32(z_hat)) if joint else gather_no_grad(at_least_fp32(z_hat.detach()))
            mcr = head([gather_with_grad(at_least_fp32(z)) for z in zs], target)
        return dict(hs=hs, zs=zs, ssl=ssl, z_hat=z_hat, comp=comp, mcr=mcr, lamda_inv=lamda_inv)

    def forward(self, inputs, data_samples=None, mode: str = "loss"):
        views = list(inputs) if isinstance(inputs, list | tuple) else inputs
        if mode == "tensor":
            return self.method(inputs, mode="tensor")
        if mode == "embeddings":
            return self.method.project(self.method.encode(views))
        if mode == "ssl_loss":
            hs = self.method.encode(views)
            return self.method.ssl_loss(hs, self.method.project(hs), views)
        if mode == "loss":
            if world_size() > 1 and torch.is_grad_enabled():  # DDP's train_step would bypass the bi-level step
                raise ConfigError("MCR under --launcher pytorch needs model_wrapper_cfg=dict(type='MCRDataParallel') "
                                  "instead of DDP, so that MCRModel.train_step runs; see docs/mcr.md")
            out = self.level_one(views)
            s = self.settings
            return {"loss": out["ssl"] + s.lambda1 * out["mcr"] + s.lambda2 * out["comp"]}
        raise ValueError(f"unsupported mode '{mode}'; use 'loss', 'tensor', 'embeddings' or 'ssl_loss'")

    def level_two_problem(self, views: list[Tensor], out: dict, names: list[str], w: list[Tensor],
                          grads: list[Tensor], steps: dict[str, Tensor]) -> Level2Problem:
        s = self.settings
        dtype = next(self.method.parameters()).dtype
        fp32 = [v.to(dtype) for v in views]
        return Level2Problem(
            params={n: p.detach() for n, p in zip(names, w, strict=True)},
            grads=dict(zip(names, grads, strict=True)), steps=steps, lambda1=s.lambda1, lambda2=s.lambda2,
            xi=list(self.compmod.parameters()), comp=out["comp"], zs=[z.detach() for z in out["zs"]],
            z_hat=out["z_hat"], ssl_loss_at=lambda p: self.call_with(p, "ssl_loss", fp32),
            embeddings_at=lambda p: self.call_with(p, "embeddings", fp32),
            mcr_head=self.mcr_head(out["lamda_inv"]), average=average_across_ranks)

    def level_two(self, views: list[Tensor], alpha: float, estimator: str | None = None,
                  optimizer: torch.optim.Optimizer | None = None) -> list[Tensor]:
        """The level-2 hypergradient for ``views`` at the current parameters, without any step (for tests
        and benchmarks); ``estimator`` defaults to the configured one. The lookahead steps by ``alpha``
        for every parameter, or, given ``optimizer``, by the configured rule with its groups."""
        with self.method.reusing_momentum_branch():
            return self._level_two(views, alpha, estimator, optimizer)

    def _level_two(self, views: list[Tensor], alpha: float, estimator: str | None,
                   optimizer: torch.optim.Optimizer | None) -> list[Tensor]:
        s = self.settings
        out = self.level_one(views)
        names, w = self.method_parameters()
        raw = torch.autograd.grad(out["ssl"] + s.lambda1 * out["mcr"], w, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for g, p in zip(raw, w, strict=True)]
        grads = average_across_ranks(grads)
        if optimizer is None:
            steps = {n: torch.as_tensor(float(alpha), dtype=g.dtype, device=g.device) for n, g in zip(names, grads)}
        else:
            steps = lookahead_step_sizes(optimizer, names, w, grads, s.lookahead, s.lookahead_lr)
        problem = self.level_two_problem(views, out, names, w, grads, steps)
        with torch.autocast(device_type=views[0].device.type, enabled=False):
            return hypergradient(problem, estimator or s.hypergrad, s.fd_epsilon)

    def train_step(self, data, optim_wrapper) -> dict[str, Tensor]:
        # The lookahead's L_ssl needs the momentum branch (BYOL/MoCo/MEC) of the same views again: reuse it.
        with self.method.reusing_momentum_branch():
            return self._train_step(data, optim_wrapper)

    def _train_step(self, data, optim_wrapper) -> dict[str, Tensor]:
        model_ow, compmod_ow = split_optim_wrappers(optim_wrapper)
        _check_amp(model_ow)
        s = self.settings
        with model_ow.optim_context(self):
            data = self.data_preprocessor(data, True)
            views = list(data["inputs"]) if isinstance(data, dict) else list(data[0])
            out = self.level_one(views)
        level1 = out["ssl"] + s.lambda1 * out["mcr"]
        logged = {"loss": level1, "ssl": out["ssl"], "mcr": out["mcr"], "comp": out["comp"],
                  **{k: torch.as_tensor(v, dtype=torch.float32) for k, v in self.method._log.items()}}
        _, log_vars = self.method.parse_losses({k: v.detach() for k, v in logged.items()})
        if not torch.isfinite(out["comp"].detach()):
            raise TrainingError(f"L_comp became {out['comp'].item()} at iteration {self.iteration + 1}; lower "
                                "regularizer.lambda2 or the learning rate, then rerun with --resume")
        names, w = self.method_parameters()
        xi = list(self.compmod.parameters())
        if s.optimization == "joint":
            total = level1 + s.lambda2 * out["comp"]
            self._assign(w + xi, torch.autograd.grad(total, w + xi, allow_unused=True))
            _step(model_ow)
            if compmod_ow is not model_ow:
                _step(compmod_ow)
        else:
            raw = torch.autograd.grad(level1, w, allow_unused=True)
            grads = self._assign(w, raw)
            hyper = None
            if self.iteration % s.level2_interval == 0:
                steps = lookahead_step_sizes(model_ow.optimizer, names, w, grads, s.lookahead, s.lookahead_lr)
                problem = self.level_two_problem(views, out, names, w, grads, steps)
                with torch.autocast(device_type=views[0].device.type, enabled=False):
                    hyper = hypergradient(problem, s.hypergrad, s.fd_epsilon)
                log_vars["hypergrad_norm"] = torch.sqrt(sum((h ** 2).sum() for h in hyper)).detach()
            for p in xi:
                p.grad = None
            _step(model_ow)
            for p in w:
                p.grad = None
            if hyper is not None:
                for p, h in zip(xi, hyper, strict=True):
                    p.grad = h.to(p.dtype)
                _step(compmod_ow)
        for p in w + xi:
            p.grad = None
        return log_vars

    @staticmethod
    def _assign(params: list[Tensor], raw: tuple) -> list[Tensor]:
        """Average gradients over ranks, write them to ``.grad`` (``None`` stays ``None``); return them
        with zeros in place of ``None`` for the lookahead."""
        present = [i for i, g in enumerate(raw) if g is not None]
        averaged = average_across_ranks([raw[i] for i in present])
        full = [torch.zeros_like(p) for p in params]
        for i, g in zip(present, averaged, strict=True):
            params[i].grad = g.detach().to(params[i].dtype)
            full[i] = g.detach()
        for i, g in enumerate(raw):
            if g is None:
                params[i].grad = None
        return full
