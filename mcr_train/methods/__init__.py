"""SSL methods, one file each, registered in :data:`mcr_train.methods.registry.METHODS`."""

from mcr_train.methods.barlowtwins import BarlowTwins, barlow_twins_loss
from mcr_train.methods.base import SSLMethod
from mcr_train.methods.byol import BYOL, byol_regression_loss
from mcr_train.methods.mec import MEC, mec_loss, taylor_log_det_trace
from mcr_train.methods.mocov2 import MoCoV2, moco_infonce_loss
from mcr_train.methods.registry import METHODS, build_method, get_method
from mcr_train.methods.simclr import SimCLR, nt_xent_loss
from mcr_train.methods.simsiam import SimSiam, simsiam_loss
from mcr_train.methods.vicreg import VICReg, vicreg_loss

__all__ = [
    "BYOL",
    "MEC",
    "METHODS",
    "BarlowTwins",
    "MoCoV2",
    "SSLMethod",
    "SimCLR",
    "SimSiam",
    "VICReg",
    "barlow_twins_loss",
    "build_method",
    "byol_regression_loss",
    "get_method",
    "mec_loss",
    "moco_infonce_loss",
    "nt_xent_loss",
    "simsiam_loss",
    "taylor_log_det_trace",
    "vicreg_loss",
]
