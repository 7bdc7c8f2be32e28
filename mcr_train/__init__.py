"""mcr training package: data, views, backbones, SSL methods, MCR and the mmengine engine."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcr")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"
