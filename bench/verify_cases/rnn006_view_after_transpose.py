# expect: RNN006 reproduced
# .view on a transposed (non-contiguous) output raises.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        out, _ = self.gru(x)
        flat = out.transpose(0, 1).view(-1, 16)
        return self.fc(flat)


net = Net()
seq_len, batch_size = 10, 4
y = net(torch.randn(seq_len, batch_size, 8))
