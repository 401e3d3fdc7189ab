# expect: RNN010 not checkable
# h_n[-1] in top-level code: no run reaches it, and verify says so rather than guess.
import torch
import torch.nn as nn

gru = nn.GRU(10, 20, bidirectional=True)
head = nn.Linear(20, 2)
x = torch.randn(5, 3, 10)
out, h_n = gru(x)
logits = head(h_n[-1])
