# MCR ablations on the factor scenes: SimCLR + MCR, seed 0, one setting changed per row, beside the baseline and
# the MCR default of the same seed; seeds 1-2 of the default give the seed-to-seed spread row.
_base_ = ['./_base_/data_scenes.py', './_base_/scale_300.py']

monitor = []  # 300 iterations are too short for an online-kNN curve to say anything
report = 'ablation'
ABLATION_CONFIG = 'configs/train/ablations/{recipe}-{variant}_resnet18-cifar_1xb128-30e_{dataset}.py'

runs = [
    dict(methods=['simclr'], seeds=[0]),
    dict(methods=['simclr'], regularizers=['mcr'], seeds=[1, 2]),
    # Each variant is a config of its own under configs/train/ablations that changes one MCR setting.
    dict(methods=['simclr'], regularizers=['mcr'], seeds=[0], config=ABLATION_CONFIG,
         variants=['lambda1-0p1', 'lambda1-2p0', 'lambda2-0p1', 'lambda2-2p0', 'fusion-embedding', 'joint', 'fd',
                   'first-order', 'lookahead-optimizer', 'interval4', 'fd-interval8']),
    # The paper's Table 4 analog: the views cut down to random resized crops only.
    dict(methods=['simclr'], seeds=[0], variants=['crop_only'], options=['data.views=simclr_cifar-crop_only']),
]

BASELINE = ('SimCLR (no MCR)', dict(regularizer='none', variant='', seed=0))
DEFAULT = ('SimCLR+MCR default', dict(regularizer='mcr', variant='', seed=0))
tables = [
    dict(title='λ1 / λ2 sensitivity (default λ1 = λ2 = 1)',
         rows=[BASELINE, DEFAULT, ('λ1=0.1', dict(variant='lambda1-0p1')), ('λ1=2.0', dict(variant='lambda1-2p0')),
               ('λ2=0.1', dict(variant='lambda2-0p1')), ('λ2=2.0', dict(variant='lambda2-2p0'))]),
    dict(title='fusion space (default: representation)',
         rows=[BASELINE, DEFAULT, ('fusion=embedding', dict(variant='fusion-embedding'))]),
    dict(title='bi-level vs joint optimization (default: bi-level)',
         rows=[BASELINE, DEFAULT, ('joint', dict(variant='joint'))]),
    dict(title='hypergradient estimator (default: exact)',
         rows=[BASELINE, DEFAULT, ('finite difference', dict(variant='fd')),
               ('first order', dict(variant='first-order'))]),
    dict(title='lookahead step (default: plain SGD step at the LARS learning rate)',
         rows=[BASELINE, DEFAULT,
               ("LARS-consistent step (lookahead='optimizer')", dict(variant='lookahead-optimizer'))]),
    # Level 2 every k-th step is how the per-step overhead meets the cost goals (benchmarks/RESULTS.md); these rows
    # measure what skipping it costs.
    dict(title='level-2 interval (default: the hypergradient step every iteration)',
         rows=[BASELINE, DEFAULT, ('exact, level 2 every 4th step', dict(variant='interval4')),
               ('finite difference, every step', dict(variant='fd')),
               ('finite difference, level 2 every 8th step', dict(variant='fd-interval8'))]),
    dict(title="augmentation combinations (the paper's Table 4 analog)",
         rows=[('SimCLR, all augmentations', BASELINE[1]), ('SimCLR+MCR, all augmentations', DEFAULT[1]),
               ('SimCLR, crop-only', dict(regularizer='none', variant='crop_only')),
               ('SimCLR+MCR, crop-only', dict(regularizer='mcr', variant='crop_only'))]),
]
spread = dict(label='seed-to-seed std of SimCLR+MCR default', runs=dict(regularizer='mcr', variant='', seed=[0, 1, 2]))
