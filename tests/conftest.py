"""Suite-wide settings: one intra-op thread per process unless a test asks for more; a scratch cache.

Oversubscribed threads (torch, OpenBLAS/OpenMP under scikit-learn) run 10-30x slower on the shared
2-core CI machine; tests that benefit from two threads set them in a fixture.
"""

import atexit
import os
import shutil
import tempfile

import torch
from threadpoolctl import threadpool_limits

torch.set_num_threads(1)
threadpool_limits(1)
# One scratch cache per test session (features, the audit's supervised reference), never the user's.
if "MCR_CACHE" not in os.environ:
    os.environ["MCR_CACHE"] = tempfile.mkdtemp(prefix="mcr-test-cache-")
    atexit.register(shutil.rmtree, os.environ["MCR_CACHE"], True)
