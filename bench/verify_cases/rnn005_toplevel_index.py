# expect: RNN005 reproduced
# fixed: RNN005 fixed
# the index is top-level code, which verify never runs: the index alone is evaluated on a
# tensor whose entries hold their own (sample, step).
import torch
import torch.nn as nn

rnn = nn.LSTM(8, 16, batch_first=True)
out, _ = rnn(torch.randn(4, 10, 8))
last = out[-1]
