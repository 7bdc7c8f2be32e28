# Two epochs of the 60,000 Fashion-MNIST training images at batch 64, where SimCLR's online kNN has flattened.
scale = dict(iters=1875, batch=64, width=16)
