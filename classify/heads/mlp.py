"""The seed notebooks' head: Dense(1024) ReLU with dropout, then the class layer; trained as the
Dense head is (the same loop, the same choices)."""

from classify.heads.dense import Dense


class Mlp(Dense):
    name = "mlp"
    title = "MLP head (ReLU hidden layer, dropout) on cache"
    hidden = True
