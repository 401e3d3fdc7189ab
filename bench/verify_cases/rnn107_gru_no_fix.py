# expect: RNN107 reproduced
# fixed: RNN107 not fixed
# The state starts as None, so no safe fix applies: --fixed leaves the finding in place.
import torch
import torch.nn as nn

rnn = nn.GRU(8, 16)
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.1)
hidden = None
for step in range(100):
    out, hidden = rnn(torch.randn(5, 4, 8), hidden)
    optimizer.zero_grad()
    out.sum().backward()
    optimizer.step()
