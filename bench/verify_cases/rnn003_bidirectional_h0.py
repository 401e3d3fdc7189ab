# expect: RNN003 reproduced
# expect: RNN003 reproduced
# the initial states (h0 and c0: one finding each) of a bidirectional LSTM without the factor 2.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(10, 20, bidirectional=True)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(1), 20)
        c0 = torch.zeros(1, x.size(1), 20)
        out, _ = self.lstm(x, (h0, c0))
        return out


net = Net()
seq_len, batch_size = 6, 3
y = net(torch.randn(seq_len, batch_size, 10))
