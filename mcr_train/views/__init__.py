"""Two-view augmentation pipelines of the published SSL recipes."""

from mcr_train.views.pipeline import TwoViewTransform, build_views
from mcr_train.views.recipes import VIEW_RECIPES, ViewSpec

__all__ = ["VIEW_RECIPES", "TwoViewTransform", "ViewSpec", "build_views"]
