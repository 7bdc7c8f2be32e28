# SimCLR's learning rate on Fashion-MNIST, chosen on the held-out tenth of the training images at 1,875 iterations:
# 0.5, 1 and 2 times the recipe's rate on both sides, seed 0. Writes chosen.json.
_base_ = ['../_base_/data_fashion_mnist_validation.py', '../_base_/scale_1875.py']

runs = [dict(methods=['simclr'], seeds=[0], variants=['{lr}'], lr_factors=[0.5, 1.0, 2.0])]
tables = [dict(title='SimCLR learning rate, selected on validation Fashion-MNIST (kNN top-1)',
               rows=[(f"SimCLR{'+MCR' if reg == 'mcr' else ''}, lr x{f:g}",
                      dict(regularizer=reg, variant=f"lr{f:g}".replace('.', 'p')))
                     for reg in ('none', 'mcr') for f in (0.5, 1.0, 2.0)])]
