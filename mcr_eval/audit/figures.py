"""PNG grids: image | ground-truth mask | attribution of each encoder, one row per example.

Attribution maps are per-pixel sums over channels, shown with a diverging colormap scaled per map to its
largest absolute value (red: positive, blue: negative), so maps of different encoders and methods are
comparable in shape, not in magnitude.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from mcr_eval.checkpoints.safe_io import atomic_write


def attribution_grid(path: Path, pixels: torch.Tensor, maps: Mapping[str, torch.Tensor],
                     mask: torch.Tensor | None = None, mask_name: str = "mask", rows: int = 6,
                     title: str = "") -> Path:
    """Write the grid for the first ``rows`` examples; ``maps`` is ``encoder name -> (N, H, W)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = min(rows, len(pixels))
    columns = ["image"] + ([mask_name] if mask is not None else []) + list(maps)
    fig, axes = plt.subplots(rows, len(columns), figsize=(1.6 * len(columns), 1.6 * rows + 0.4), squeeze=False)
    for i in range(rows):
        image = pixels[i].permute(1, 2, 0).clamp(0, 1).numpy()
        panels = [("image", image, {})]
        if mask is not None:
            panels.append((mask_name, mask[i].numpy().astype(float), {"cmap": "gray", "vmin": 0, "vmax": 1}))
        for name, values in maps.items():
            m = values[i].detach().double().numpy()
            scale = float(np.abs(m).max()) or 1.0
            panels.append((name, m, {"cmap": "bwr", "vmin": -scale, "vmax": scale}))
        for j, (name, data, style) in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(data, interpolation="nearest", **style)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return Path(path)
