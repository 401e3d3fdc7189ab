# expect: clean
# batch-first data permuted to seq-first before a seq-first LSTM.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 12)
        self.fc = nn.Linear(12, 1)

    def forward(self, x):
        out, _ = self.lstm(x.permute(1, 0, 2))
        return self.fc(out[-1])


net = Net()
batch_size, seq_len = 7, 9
y = net(torch.randn(batch_size, seq_len, 6))
