"""Choices offered by forms: samplers and schedulers.

The built-in lists match a stock ComfyUI. `sampler_choices()` and
`scheduler_choices()` are the one place the rest of GAZE asks; a provider
registered with `set_provider` (e.g. one reading ComfyUI's `/object_info`)
is consulted first, and the built-in list is the fallback.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

BUILTIN_SAMPLERS = (
    "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2",
    "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral",
    "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu",
    "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm", "ipndm", "ipndm_v", "deis",
    "res_multistep", "gradient_estimation", "ddim", "uni_pc", "uni_pc_bh2",
)
BUILTIN_SCHEDULERS = ("normal", "karras", "exponential", "sgm_uniform", "simple",
                      "ddim_uniform", "beta", "linear_quadratic", "kl_optimal")

_providers: dict[str, Callable[[], list[str] | None]] = {}


def set_provider(kind: str, provider: Callable[[], list[str] | None] | None) -> None:
    """Register (or with None remove) a function returning the live list of
    `kind` ("sampler" or "scheduler"); it may return None when unknown."""
    if kind not in ("sampler", "scheduler"):
        raise ValueError(f"unknown choice kind {kind!r}")
    if provider is None:
        _providers.pop(kind, None)
    else:
        _providers[kind] = provider


def _choices(kind: str, builtin: tuple[str, ...], current: str | None) -> list[str]:
    values: list[str] | None = None
    provider = _providers.get(kind)
    if provider is not None:
        try:
            values = provider()
        except Exception:  # a provider failing must never break a page
            log.warning("%s provider failed; using the built-in list", kind, exc_info=True)
    out = list(values) if values else list(builtin)
    if current and current not in out:
        out.append(current)   # an unknown value stays selectable, never silently replaced
    return out


def sampler_choices(current: str | None = None) -> list[str]:
    return _choices("sampler", BUILTIN_SAMPLERS, current)


def scheduler_choices(current: str | None = None) -> list[str]:
    return _choices("scheduler", BUILTIN_SCHEDULERS, current)
