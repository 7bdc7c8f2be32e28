# Fashion-MNIST from the Debian dataset-fashion-mnist package: all 60,000 training images to pretrain on, the
# 10,000 test images for the probes, and the real-image invariance audit.
dataset = 'fashion-mnist'
train_data = 'fashion-mnist'
eval_data = 'fashion-mnist'
audit = 'invariance'
# Online kNN every 125 iterations on the test split: curves only, never chosen on.
monitor = ['knn_monitor.interval=125', 'knn_monitor.data=fashion-mnist']
