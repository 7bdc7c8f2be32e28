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
