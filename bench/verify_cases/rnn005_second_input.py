# expect: RNN005 reproduced
# fixed: RNN005 fixed
# the first input never reaches the index; the harness nudges each input whose dims it knows
# until a control shows one that does.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 3)

    def forward(self, context, x):
        out, _ = self.rnn(x)
        return self.fc(out[-1]), context.mean()


model = Net()
batch_size, seq_len = 4, 10
logits = model(torch.randn(batch_size, seq_len, 8), torch.randn(batch_size, seq_len, 8))
