# expect: RNN002 reproduced
# the embedding gives 8 features, the GRU expects 16.
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 8)
        self.gru = nn.GRU(16, 32, batch_first=True)

    def forward(self, tokens):
        out, h = self.gru(self.emb(tokens))
        return h


enc = Encoder()
batch_size, seq_len = 4, 9
h = enc(torch.randint(0, 100, (batch_size, seq_len)))
