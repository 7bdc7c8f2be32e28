"""Suite-wide settings: one intra-op thread per process unless a test asks for more.

Oversubscribed threads (torch, OpenBLAS/OpenMP under scikit-learn) run 10-30x slower on the shared
2-core CI machine; tests that benefit from two threads set them in a fixture.
"""

import torch
from threadpoolctl import threadpool_limits

torch.set_num_threads(1)
threadpool_limits(1)
