# expect: RNN104 reproduced
# dropout=0.5 on a one-layer GRU after an embedding.
import torch
import torch.nn as nn


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(40, 8)
        self.gru = nn.GRU(8, 16, num_layers=1, dropout=0.5, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(16, 40)

    def forward(self, tokens):
        out, _ = self.gru(self.emb(tokens))
        return self.fc(self.drop(out))


lm = LM()
batch_size, seq_len = 3, 7
logits = lm(torch.randint(0, 40, (batch_size, seq_len)))
