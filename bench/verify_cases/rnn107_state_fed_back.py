# expect: RNN107 reproduced
# fixed: RNN107 fixed
# The LSTM's (h, c) is fed into the next batch undetached: the second backward() reaches into
# the first batch's graph, which the first backward() freed.
import torch
import torch.nn as nn


class CharLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(30, 8)
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.head = nn.Linear(16, 30)

    def forward(self, x, state):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


model = CharLM()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()
state = (torch.zeros(1, 4, 16), torch.zeros(1, 4, 16))
for step in range(10):
    x = torch.randint(0, 30, (4, 12))
    y = torch.randint(0, 30, (4, 12))
    logits, state = model(x, state)
    loss = criterion(logits.reshape(-1, 30), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
