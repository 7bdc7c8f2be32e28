# The procedural factor scenes (docs/training.md): 4,000 generated scenes to pretrain on, 2,000 train and
# 1,000 test scenes for the probes, and the factor audit (shared vs non-shared factors).
dataset = 'scenes'
train_data = 'scenes?n=4000'
eval_data = 'scenes?n=2000&n_test=1000'
audit = 'factors'
# Online kNN every 125 iterations on the probes' images: it draws the curves that show where kNN flattens;
# nothing is chosen from it.
monitor = ['knn_monitor.interval=125', 'knn_monitor.data=scenes?n=2000&n_test=1000']
