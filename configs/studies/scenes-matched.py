# A SimCLR baseline given MCR's compute on the scenes: 2.5x the published SimCLR length (9,300 iterations, 150
# planned epochs) at the baseline's chosen rate, beside the 3,720-iteration pairs of the same seeds borrowed from
# the scenes study. Prose in scenes-matched.md.
_base_ = ['./_base_/data_scenes.py', './_base_/scale_3720.py']

scale = dict(iters=9300)
report = 'ablation'
runs = [
    dict(methods=['simclr'], regularizers=['none'], seeds=[0, 1, 2], variants=['{lr}-2p5x'],
         lr_chosen_by='lr-selection/scenes-full-lr', options=['schedule.epochs=150']),
]
borrow = [dict(study='scenes', runs=dict(method='simclr', seed=[0, 1, 2]))]

tables = [
    dict(title="SimCLR at 2x the recipe's rate, seeds 0-2: 2.5x the iterations (MCR's compute) against 3,720 ± MCR",
         rows=[('SimCLR, 3,720 iterations', dict(regularizer='none', iters=3720)),
               ('SimCLR+MCR, 3,720 iterations', dict(regularizer='mcr', iters=3720)),
               ('SimCLR, 9,300 iterations', dict(iters=9300))]),
]
contrasts = [
    ('SimCLR+MCR, 3,720 iterations', 'SimCLR, 3,720 iterations'),
    ('SimCLR, 9,300 iterations', 'SimCLR, 3,720 iterations'),
    ('SimCLR+MCR, 3,720 iterations', 'SimCLR, 9,300 iterations'),
]
