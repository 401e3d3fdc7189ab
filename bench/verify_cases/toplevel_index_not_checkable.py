# expect: RNN005 not checkable
# the index is top-level code, which verify never runs: it says so rather than guess.
import torch
import torch.nn as nn

rnn = nn.LSTM(8, 16, batch_first=True)
out, _ = rnn(torch.randn(4, 10, 8))
last = out[-1]
