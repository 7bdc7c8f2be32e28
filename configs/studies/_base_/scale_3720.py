# Twice the recipe's 30 epochs on 4,000 scenes at batch 64 (62 iterations an epoch). --max-iters only shortens a
# schedule, so a run of this length also needs `schedule.epochs=60` in its options.
scale = dict(iters=3720, batch=64, width=16)
