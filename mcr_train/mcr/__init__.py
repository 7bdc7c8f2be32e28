"""Meta Comprehensive Regularization (Guo et al., AAAI 2024): CompMod, its losses, the bi-level step and
the wrapper that adds it to any registered SSL method. See docs/mcr.md."""

from mcr_train.mcr.compmod import CompMod, fusion_input
from mcr_train.mcr.distributed import MCRDataParallel, average_across_ranks
from mcr_train.mcr.hypergrad import Level2Problem, hypergradient
from mcr_train.mcr.losses import coding_rate, comp_loss, cross_coding_rate, mcr_loss
from mcr_train.mcr.optim import MCROptimWrapperConstructor
from mcr_train.mcr.registry import MCR_REGULARIZERS, regularized_model_class, wrap_with_regularizer
from mcr_train.mcr.settings import MCRSettings
from mcr_train.mcr.wrapper import MCRModel

__all__ = [
    "MCR_REGULARIZERS", "CompMod", "Level2Problem", "MCRDataParallel", "MCRModel", "MCROptimWrapperConstructor",
    "MCRSettings", "average_across_ranks", "coding_rate", "comp_loss", "cross_coding_rate", "fusion_input",
    "hypergradient", "mcr_loss", "regularized_model_class", "wrap_with_regularizer",
]
