# Learning-rate selection on the scenes: validation scenes from generator seed 1 (same distribution, no image
# shared with the test split), so the test split is read only by the runs chosen on them.
_base_ = ['./data_scenes.py']
eval_data = 'scenes?seed=1&n=2000&n_test=1000'
test_data = 'scenes?n=2000&n_test=1000'
audit = 'none'
# The online kNN watches the validation scenes too, so nothing read off the curves comes from the test split.
monitor = ['knn_monitor.interval=125', 'knn_monitor.data=scenes?seed=1&n=2000&n_test=1000']
report = 'ablation'
