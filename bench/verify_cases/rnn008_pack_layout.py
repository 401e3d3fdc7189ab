# expect: RNN008 reproduced
# batch-first padded data packed as if seq-first.
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16, batch_first=True)

    def forward(self, x):
        lengths = torch.full((x.size(0),), x.size(1), dtype=torch.long)
        packed = pack_padded_sequence(x, lengths)
        out, h = self.gru(packed)
        return h


net = Net()
batch_size, max_len = 4, 12
h = net(torch.randn(batch_size, max_len, 8))
