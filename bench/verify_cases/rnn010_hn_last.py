# expect: RNN010 reproduced
# fixed: RNN010 fixed
# h_n[-1] of a bidirectional GRU is the backward direction only.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(10, 20, bidirectional=True)
        self.head = nn.Linear(20, 2)

    def forward(self, x):
        out, h_n = self.gru(x)
        return self.head(h_n[-1])


net = Net()
seq_len, batch_size = 5, 3
logits = net(torch.randn(seq_len, batch_size, 10))
