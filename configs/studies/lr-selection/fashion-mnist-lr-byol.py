# BYOL's learning rate on Fashion-MNIST, chosen as for SimCLR (fashion-mnist-lr.py), in a study of its own so the
# SimCLR choice stays as published. Writes chosen.json.
_base_ = ['../_base_/data_fashion_mnist_validation.py', '../_base_/scale_1875.py']

runs = [dict(methods=['byol'], seeds=[0], variants=['{lr}'], lr_factors=[0.5, 1.0, 2.0])]
tables = [dict(title='BYOL learning rate, selected on validation Fashion-MNIST (kNN top-1)',
               rows=[(f"BYOL{'+MCR' if reg == 'mcr' else ''}, lr x{f:g}",
                      dict(regularizer=reg, variant=f"lr{f:g}".replace('.', 'p')))
                     for reg in ('none', 'mcr') for f in (0.5, 1.0, 2.0)])]
# From scratch in two parts sized from the per-run times in timing.json: the baseline side's choice first.
parts = [['byol-none-*', 'byol-mcr-lr0p5-s0'], ['byol-mcr-lr1-s0', 'byol-mcr-lr2-s0']]
