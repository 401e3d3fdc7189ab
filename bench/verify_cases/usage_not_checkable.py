# expect: RNN101 not checkable
# a usage finding: running the model cannot show it.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 8)
        self.fc = nn.Linear(8, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(out[-1])


net = Net()
net.eval()
seq_len, batch_size = 6, 2
pred = net(torch.randn(seq_len, batch_size, 4))
