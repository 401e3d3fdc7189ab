# expect: RNN009 reproduced
# an LSTM's (h_n, c_n) tuple used as a tensor.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(10, 20)
        self.fc = nn.Linear(20, 2)

    def forward(self, x):
        out, state = self.lstm(x)
        return self.fc(state.squeeze(0))


net = Net()
seq_len, batch_size = 5, 3
y = net(torch.randn(seq_len, batch_size, 10))
