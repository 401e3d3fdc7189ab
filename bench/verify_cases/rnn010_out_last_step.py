# expect: RNN010 reproduced
# out[:, -1] of a bidirectional batch-first LSTM: the backward half has read one step.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(10, 20, batch_first=True, bidirectional=True)
        self.head = nn.Linear(40, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


net = Net()
batch_size, seq_len = 3, 6
logits = net(torch.randn(batch_size, seq_len, 10))
