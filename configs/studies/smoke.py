# Two runs of two iterations through every step (pretrain, evaluate, audit, attribution, references, report): what
# the test suite runs, and a quick check of an install. Not a result.
_base_ = ['./_base_/data_scenes.py']

out = 'work_dirs/studies/smoke'
train_data = 'scenes?n=32'
# At least 200 training images: the headline kNN protocol uses k=200.
eval_data = 'scenes?n=200&n_test=40'
audit_n = 60
counterfactuals = 10
scale = dict(iters=2, batch=8, width=4)
runs = [dict(methods=['simclr'], seeds=[0], monitor=False)]
attribution = [dict(method='simclr', seed=0)]
references = True
