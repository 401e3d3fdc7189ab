# expect: RNN010 reproduced
# fixed: RNN010 not fixed
# h_n[-1] of a bidirectional LSTM read by a head that a second input of 20 features shares:
# the unsafe fix doubles the head's in_features, and the fixed model raises on the other use.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(10, 20, bidirectional=True)
        self.proj = nn.Linear(10, 20)
        self.head = nn.Linear(20, 2)

    def forward(self, x):
        out, (h_n, c_n) = self.lstm(x)
        return self.head(h_n[-1]) + self.head(self.proj(x.mean(0)))


net = Net()
seq_len, batch_size = 5, 3
logits = net(torch.randn(seq_len, batch_size, 10))
