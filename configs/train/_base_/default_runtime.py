# Runtime defaults shared by every training config (see mcr_train/engine/runner.py for the keys).
amp = None  # 'bf16' or 'fp16' on a GPU
sync_bn = False
seed = 0
deterministic = False
checkpoint_interval = 1000
max_keep_ckpts = 2
log_interval = 10
tensorboard = True
clip_grad = None
# Online kNN (mcr_train.engine.knn_monitor.KnnMonitorHook) every `interval` iterations on held-out data; 0 = off.
# data=None: the training spec's own train/test splits (first max_train / max_test images).
custom_imports = dict(imports=['mcr_train.engine.knn_monitor'], allow_failed_imports=False)
knn_monitor = dict(interval=0, data=None, k=200, temperature=0.1, max_train=2000, max_test=1000)
custom_hooks = []
