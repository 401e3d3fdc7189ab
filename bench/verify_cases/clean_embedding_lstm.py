# expect: clean
# token ids, an embedding, a seq-first two-layer LSTM and its final hidden state.
import torch
import torch.nn as nn

VOCAB, EMB, HID = 30, 8, 16


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, EMB)
        self.lstm = nn.LSTM(EMB, HID, num_layers=2)
        self.fc = nn.Linear(HID, 2)

    def forward(self, tokens):
        out, (h, c) = self.lstm(self.emb(tokens))
        return self.fc(h[-1])


enc = Encoder()
seq_len, batch_size = 12, 5
y = enc(torch.randint(0, VOCAB, (seq_len, batch_size)))
