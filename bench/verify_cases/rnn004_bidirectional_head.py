# expect: RNN004 reproduced
# a head sized for one direction after a bidirectional GRU.
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.gru = nn.GRU(12, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(hidden, 5)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.fc(out)


model = Tagger(24)
batch_size, seq_len = 4, 9
logits = model(torch.randn(batch_size, seq_len, 12))
