# The audit v2 re-measurement: the SimCLR pairs of the scenes comparison (seeds 0-2, same schedule, rate and
# data) retrained at the current code and audited with v2. Their encoders are committed in float16 beside the
# report, so the audit can be recomputed without retraining. Prose in scenes-audit.md.
_base_ = ['./_base_/data_scenes.py', './_base_/scale_3720.py']

runs = [
    dict(methods=['simclr'], seeds=[0, 1, 2], variants=['{lr}-2x'], lr_chosen_by='lr-selection/scenes-full-lr',
         options=['schedule.epochs=60']),
]
attribution = [dict(method='simclr', seed=0)]
references = True

parts = [
    ['simclr-mcr-*-s0', 'simclr-mcr-*-s1'],
    ['simclr-mcr-*-s2', 'simclr-none-*-s0', 'simclr-none-*-s1', 'simclr-none-*-s2'],
]
