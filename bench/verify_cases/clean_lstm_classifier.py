# expect: clean
# a batch-first LSTM classifier reading the last step of every sample.
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


model = Classifier()
batch_size, seq_len = 4, 10
logits = model(torch.randn(batch_size, seq_len, 8))
