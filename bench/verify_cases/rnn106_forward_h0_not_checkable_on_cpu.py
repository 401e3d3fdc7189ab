# expect: RNN106 not checkable
# fixed: RNN106 not checkable
# h0 made on the CPU inside forward while the program moves the model to `device`: on a GPU
# the GRU raises; a CPU-only machine cannot show it, and verify says so.
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16, batch_first=True)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), 16)
        out, _ = self.gru(x, h0)
        return self.head(out)


model = Tagger().to(device)
batch_size, seq_len = 4, 9
logits = model(torch.randn(batch_size, seq_len, 8, device=device))
