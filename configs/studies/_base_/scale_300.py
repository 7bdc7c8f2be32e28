# CPU-sized runs: ResNet-18 (CIFAR stem) at width 16, batch 64, 300 iterations (4.8 epochs of 4,000 scenes).
scale = dict(iters=300, batch=64, width=16)
