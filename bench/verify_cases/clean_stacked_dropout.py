# expect: clean
# dropout between two stacked layers does act.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, dropout=0.3)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[-1])


net = Net()
seq_len, batch_size = 7, 3
y = net(torch.randn(seq_len, batch_size, 8))
