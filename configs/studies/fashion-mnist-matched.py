# A SimCLR baseline given MCR's compute on Fashion-MNIST: 2.5x the iterations (4,688) beside SimCLR with and
# without MCR at 1,875, all at the recipe's rate. Prose in fashion-mnist-matched.md.
_base_ = ['./_base_/data_fashion_mnist.py', './_base_/scale_1875.py']

scale = dict(iters=4688)
report = 'ablation'
runs = [
    dict(methods=['simclr'], seeds=[0, 1, 2], iters=1875),
    # The 30-epoch config is capped by --max-iters, so warm-up and cosine are compressed into the 4,688 iterations.
    dict(methods=['simclr'], regularizers=['none'], seeds=[0, 1, 2], variants=['2p5x']),
]

tables = [
    dict(title='SimCLR, seeds 0-2: 2.5x the iterations (MCR\'s compute) against 1,875 with and without MCR',
         rows=[('SimCLR, 1,875 iterations', dict(regularizer='none', iters=1875)),
               ('SimCLR+MCR, 1,875 iterations', dict(regularizer='mcr', iters=1875)),
               ('SimCLR, 4,688 iterations', dict(iters=4688))]),
]
contrasts = [
    ('SimCLR+MCR, 1,875 iterations', 'SimCLR, 1,875 iterations'),
    ('SimCLR, 4,688 iterations', 'SimCLR, 1,875 iterations'),
    ('SimCLR+MCR, 1,875 iterations', 'SimCLR, 4,688 iterations'),
]
