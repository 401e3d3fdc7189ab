# expect: RNN001 reproduced
# fixed: RNN001 not fixed
# a batch-first batch into a seq-first LSTM, its output averaged over dim 0: the transpose fix
# averages over time, batch_first=True over the batch. The strategies disagree, so neither
# unsafe fix is proved.
import torch
import torch.nn as nn


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 16)
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out.mean(0))


model = Forecaster()
batch_size, seq_len = 32, 24
pred = model(torch.randn(batch_size, seq_len, 5))
