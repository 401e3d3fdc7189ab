# expect: error
# a real RNN004, but the run raises something else first: an error, not a reproduction.
import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, bidirectional=True)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        total = out.sum(dim=5)
        return self.fc(out[-1]) + total


model = M()
y = model(torch.zeros(5, 3, 8))
