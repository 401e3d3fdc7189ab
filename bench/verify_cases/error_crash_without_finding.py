# expect: error
# a crash no finding predicts: the harness must say error (exit 2), never pass.
import torch
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        out, h = self.gru(x)
        return self.fc(out[:, -1]).view(3, 7)


model = M()
y = model(torch.zeros(4, 5, 8))
