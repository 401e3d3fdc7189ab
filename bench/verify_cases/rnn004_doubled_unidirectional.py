# expect: RNN004 reproduced
# a head sized for two directions after a one-direction LSTM.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 16)
        self.fc = nn.Linear(32, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[-1])


net = Net()
seq_len, batch_size = 7, 5
y = net(torch.randn(seq_len, batch_size, 6))
