# expect: clean
# an initial state shaped (num_layers * directions, batch, hidden) for a batch-first GRU,
# and both directions of its last layer's final state.
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(10, 20, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(40, 3)

    def forward(self, x):
        h0 = torch.zeros(4, x.size(0), 20)
        out, h = self.gru(x, h0)
        return self.fc(torch.cat((h[-2], h[-1]), dim=1))


net = Net()
batch_size, seq_len = 8, 5
y = net(torch.randn(batch_size, seq_len, 10))
