# expect: clean
# batch-first padded data packed with batch_first=True and unpacked the same way.
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        lengths = torch.full((x.size(0),), x.size(1), dtype=torch.long)
        packed = pack_padded_sequence(x, lengths, batch_first=True)
        out, h = self.gru(packed)
        padded, _ = pad_packed_sequence(out, batch_first=True)
        return self.fc(padded[:, -1])


net = Net()
batch_size, max_len = 4, 12
y = net(torch.randn(batch_size, max_len, 8))
