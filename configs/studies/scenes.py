# The scenes comparison: SimCLR, BYOL and Barlow Twins with and without MCR, each trained until its online kNN
# has flattened. Prose (budget, caveats, measured times) in scenes.md; per-run times in the report's timing.json.
_base_ = ['./_base_/data_scenes.py', './_base_/scale_3720.py']

runs = [
    # SimCLR, seeds 0-4, 3,720 iterations (60 planned epochs), each side at the rate the selection chose at this
    # length; five seeds because its paired effect varied across the first three.
    dict(methods=['simclr'], seeds=[0, 1, 2, 3, 4], variants=['{lr}-2x'], lr_chosen_by='lr-selection/scenes-full-lr',
         options=['schedule.epochs=60']),
    # BYOL and Barlow Twins at the recipe's 30 epochs and rate: their kNN is flat near chance from the first check,
    # so a longer schedule would only cost compute.
    dict(methods=['byol', 'barlowtwins'], seeds=[0, 1, 2], iters=1860),
]
attribution = [dict(method='simclr', seed=0)]
references = True

# From scratch, in parts (sized from the per-run times in timing.json); each SimCLR part ends with complete seed
# pairs, so the paired effect grows with every part.
parts = [
    ['simclr-mcr-*-s0', 'simclr-mcr-*-s1'],
    ['simclr-mcr-*-s2', 'simclr-none-*-s0', 'simclr-none-*-s1', 'simclr-none-*-s2'],
    ['simclr-mcr-*-s3', 'simclr-mcr-*-s4', 'simclr-none-*-s3', 'simclr-none-*-s4'],
    ['byol-*-s0', 'byol-*-s1'],
    ['byol-*-s2', 'barlowtwins-*-s0'],
    ['barlowtwins-*-s1', 'barlowtwins-*-s2'],
]
