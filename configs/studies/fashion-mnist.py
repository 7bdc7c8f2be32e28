# The Fashion-MNIST comparison: SimCLR and BYOL with and without MCR for 1,875 iterations, each side at the rate
# its selection chose on a held-out tenth of the training images. Prose in fashion-mnist.md.
_base_ = ['./_base_/data_fashion_mnist.py', './_base_/scale_1875.py']

runs = [
    dict(methods=['simclr'], seeds=[0, 1, 2], variants=['{lr}'], lr_chosen_by='lr-selection/fashion-mnist-lr'),
    dict(methods=['byol'], seeds=[0, 1, 2], variants=['{lr}'], lr_chosen_by='lr-selection/fashion-mnist-lr-byol'),
]
references = True

# From scratch, in parts sized from the per-run times in timing.json (an MCR run costs several baseline runs).
parts = [
    ['simclr-mcr-*-s0', 'simclr-mcr-*-s1'],
    ['simclr-mcr-*-s2', 'simclr-none-*'],
    ['byol-mcr-*-s0', 'byol-mcr-*-s1', 'byol-none-*-s0', 'byol-none-*-s1'],
    ['byol-mcr-*-s2', 'byol-none-*-s2'],
]
