# expect: RNN001 reproduced
# fixed: RNN001 fixed
# a batch-first tensor fed to a seq-first LSTM: no crash, batch and time swapped.
"""A silent layout bug: a batch-first batch fed to a default (seq-first) LSTM.

Nothing crashes.  The LSTM reads each batch of 32 windows as one sequence of 32 steps over a
"batch" of 24 time steps, and ``out[-1]`` then takes the last *window*, not the last step.
The model trains, slowly and on the wrong thing.  ``rnnshape verify`` shows the runtime shape.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)

n_windows, seq_len, n_features = 512, 24, 5
series = torch.randn(n_windows, seq_len, n_features)
targets = series[:, -1, :1] * 2.0
loader = DataLoader(TensorDataset(series, targets), batch_size=32, shuffle=True)


class Forecaster(nn.Module):
    def __init__(self, n_features, hidden_size):
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[-1])


model = Forecaster(n_features, 64)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.MSELoss()
for epoch in range(3):
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch}: loss {loss.item():.4f}")
