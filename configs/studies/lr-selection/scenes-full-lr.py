# SimCLR's learning rate on the scenes, chosen on validation scenes at the published SimCLR length (3,720
# iterations): 0.5, 1 and 2 times the recipe's rate on both sides, seed 0. Writes chosen.json, which the scenes
# studies read their rates from.
_base_ = ['../_base_/data_scenes_validation.py', '../_base_/scale_3720.py']

runs = [dict(methods=['simclr'], seeds=[0], variants=['{lr}'], lr_factors=[0.5, 1.0, 2.0],
             options=['schedule.epochs=60'])]
tables = [dict(title='SimCLR learning rate, selected on the validation scenes at 3,720 iterations (kNN top-1)',
               rows=[(f"SimCLR{'+MCR' if reg == 'mcr' else ''}, lr x{f:g}",
                      dict(regularizer=reg, variant=f"lr{f:g}".replace('.', 'p')))
                     for reg in ('none', 'mcr') for f in (0.5, 1.0, 2.0)])]
parts = [['simclr-mcr-lr0p5-s0', 'simclr-mcr-lr1-s0'], ['simclr-mcr-lr2-s0', 'simclr-none-lr0p5-s0'],
         ['simclr-none-lr1-s0', 'simclr-none-lr2-s0']]
