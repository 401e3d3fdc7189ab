# expect: RNN005 reproduced
# token ids through an embedding and a batch-first GRU; out[-1] is the last sentence.
import torch
import torch.nn as nn


class SentimentNet(nn.Module):
    def __init__(self, vocab_size, emb_dim, hidden):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, emb_dim)
        self.gru = nn.GRU(emb_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 2)

    def forward(self, tokens):
        out, _ = self.gru(self.emb(tokens))
        return self.out(out[-1])


net = SentimentNet(50, 8, 16)
batch_size, seq_len = 6, 11
logits = net(torch.randint(0, 50, (batch_size, seq_len)))
