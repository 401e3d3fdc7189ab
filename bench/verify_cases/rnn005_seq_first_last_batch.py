# expect: RNN005 reproduced
# fixed: RNN005 fixed
# out[:, -1] on a seq-first GRU's output is the last batch element at every step.
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.gru = nn.GRU(6, hidden)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1, :])


model = Encoder(12)
seq_len, batch_size = 9, 5
y = model(torch.randn(seq_len, batch_size, 6))
