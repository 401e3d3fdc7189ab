# expect: clean
# both directions of a bidirectional GRU's final state, concatenated.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(10, 20, bidirectional=True)
        self.head = nn.Linear(40, 2)

    def forward(self, x):
        out, h_n = self.gru(x)
        return self.head(torch.cat((h_n[-2], h_n[-1]), dim=1))


net = Net()
seq_len, batch_size = 5, 3
logits = net(torch.randn(seq_len, batch_size, 10))
