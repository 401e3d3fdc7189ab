# expect: RNN009 reproduced
# a GRU's state unpacked as an LSTM's (h, c).
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(10, 20)
        self.fc = nn.Linear(20, 2)

    def forward(self, x):
        out, (h, c) = self.gru(x)
        return self.fc(h[-1])


net = Net()
seq_len, batch_size = 5, 3
y = net(torch.randn(seq_len, batch_size, 10))
