# expect: clean
# a tagger whose logits are permuted to (N, C, L) for the loss.
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 16, batch_first=True, bidirectional=True)
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


model = Tagger()
criterion = nn.CrossEntropyLoss()
batch_size, seq_len = 4, 10
logits = model(torch.randn(batch_size, seq_len, 8))
targets = torch.randint(0, 5, (batch_size, seq_len))
loss = criterion(logits.permute(0, 2, 1), targets)
