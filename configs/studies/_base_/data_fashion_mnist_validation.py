# Learning-rate selection on Fashion-MNIST: the last 10,000 training images held out as the validation split;
# pretraining and the kNN bank keep the first 50,000, and the test images are read only by the chosen runs.
_base_ = ['./data_fashion_mnist.py']
train_data = 'fashion-mnist?holdout=10000'
eval_data = 'fashion-mnist?holdout=10000'
test_data = 'fashion-mnist'
audit = 'none'
monitor = ['knn_monitor.interval=125', 'knn_monitor.data=fashion-mnist?holdout=10000']
report = 'ablation'
