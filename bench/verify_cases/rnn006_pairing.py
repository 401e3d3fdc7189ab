# expect: RNN006 reproduced
# logits flattened time-major, targets batch-major.
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


model = Tagger()
criterion = nn.CrossEntropyLoss()
batch_size, seq_len = 4, 10
x = torch.randn(seq_len, batch_size, 8)
y = torch.randint(0, 5, (batch_size, seq_len))
logits = model(x)
loss = criterion(logits.view(-1, 5), y.reshape(-1))
