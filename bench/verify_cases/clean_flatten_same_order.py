# expect: clean
# logits and targets both flattened batch-major.
import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16, batch_first=True)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


model = Tagger()
criterion = nn.CrossEntropyLoss()
batch_size, seq_len = 4, 10
x = torch.randn(batch_size, seq_len, 8)
y = torch.randint(0, 5, (batch_size, seq_len))
logits = model(x)
loss = criterion(logits.reshape(-1, 5), y.reshape(-1))
