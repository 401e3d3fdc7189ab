# expect: RNN001 reproduced
# a Conv1d's (batch, channels, length) output fed to a batch-first LSTM as it is.
import torch
import torch.nn as nn


class ConvRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 16, kernel_size=3, padding=1)
        self.rnn = nn.LSTM(16, 32, batch_first=True)
        self.fc = nn.Linear(32, 2)

    def forward(self, x):
        feats = self.conv(x)
        out, _ = self.rnn(feats)
        return self.fc(out[:, -1])


model = ConvRNN()
batch_size, seq_len = 8, 50
y = model(torch.randn(batch_size, 4, seq_len))
