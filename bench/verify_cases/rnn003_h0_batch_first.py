# expect: RNN003 reproduced
# h0 built batch-first because the input is batch-first.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(10, 20, num_layers=2, batch_first=True)

    def forward(self, x):
        h0 = torch.zeros(x.size(0), 2, 20)
        out, h = self.gru(x, h0)
        return out


net = Net()
batch_size, seq_len = 8, 5
y = net(torch.randn(batch_size, seq_len, 10))
