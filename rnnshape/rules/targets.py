"""What a sequence model is trained to predict: targets that must be shifted."""
from __future__ import annotations

from rnnshape.rules.base import Context, Invalid, Rule


class TargetNotShifted(Rule):
    code = "RNN011"
    name = "target-not-shifted"
    summary = "Next-token loss whose target is the model's own input (learns to copy)"
    what = ("Finds a `CrossEntropyLoss`/`NLLLoss` (or `F.cross_entropy`/`F.nll_loss`) on the "
            "output of a model with exactly one recurrent module, unidirectional, whose "
            "`forward` feeds its argument straight into an `Embedding` or the recurrent "
            "module, when the loss target is that same argument: the same tensor, or the same "
            "slice of it (`x[:, :-1]` as input and as target), seen through `view`/`reshape`/"
            "`contiguous`/`long`/`to`.  Taggers (a different target tensor), models that shift "
            "inside `forward`, encoder-decoder models and bidirectional ones are not reported.")
    why = ("At step t a unidirectional network has already read token t, so predicting token "
           "t is copying it: the loss falls to almost zero within an epoch, and the model "
           "generates nothing.  A language model must predict token t+1 from tokens up to t.")
    fix_note = ("No automatic fix (where the sequence comes from decides how).  Shift by one "
                "step: feed `x[:, :-1]` and take `x[:, 1:]` as the target (time-major: "
                "`x[:-1]` and `x[1:]`), or have the dataset pair each input with the next "
                "tokens.")
    valid = (
        """import torch
import torch.nn as nn


class LM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.head = nn.Linear(64, vocab)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.head(out)


model = LM(100)
criterion = nn.CrossEntropyLoss()
batch = torch.randint(0, 100, (8, 21))
inputs, targets = batch[:, :-1], batch[:, 1:]
logits = model(inputs)
loss = criterion(logits.reshape(-1, 100), targets.reshape(-1))
""",
        """import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self, vocab, tags):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.head = nn.Linear(64, tags)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.head(out)


model = Tagger(100, 100)
criterion = nn.CrossEntropyLoss()
words = torch.randint(0, 100, (8, 20))
tags = torch.randint(0, 100, (8, 20))
loss = criterion(model(words).reshape(-1, 100), tags.reshape(-1))
""",
        """import torch
import torch.nn as nn


class Denoiser(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True, bidirectional=True)
        self.head = nn.Linear(128, vocab)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.head(out)


model = Denoiser(100)
tokens = torch.randint(0, 100, (8, 20))
logits = model(tokens)
loss = nn.CrossEntropyLoss()(logits.reshape(-1, 100), tokens.reshape(-1))
""",
        """import torch
import torch.nn as nn


class Autoencoder(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.encoder = nn.GRU(32, 64, batch_first=True)
        self.decoder = nn.GRU(32, 64, batch_first=True)
        self.head = nn.Linear(64, vocab)

    def forward(self, x):
        _, code = self.encoder(self.embed(x))
        out, _ = self.decoder(self.embed(x), code)
        return self.head(out)


model = Autoencoder(100)
tokens = torch.randint(0, 100, (8, 20))
loss = nn.CrossEntropyLoss()(model(tokens).reshape(-1, 100), tokens.reshape(-1))
""",
        """import torch
import torch.nn as nn


class ShiftingLM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.head = nn.Linear(64, vocab)

    def forward(self, x):
        start = torch.zeros_like(x[:, :1])
        shifted = torch.cat([start, x[:, :-1]], dim=1)  # the model shifts its input itself
        out, _ = self.lstm(self.embed(shifted))
        return self.head(out)


model = ShiftingLM(100)
tokens = torch.randint(0, 100, (8, 20))
loss = nn.CrossEntropyLoss()(model(tokens).reshape(-1, 100), tokens.reshape(-1))
""",
    )
    invalid = (
        Invalid(
            """import torch
import torch.nn as nn


class LM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.head = nn.Linear(64, vocab)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.head(out)


model = LM(100)
criterion = nn.CrossEntropyLoss()
batch = torch.randint(0, 100, (8, 20))
logits = model(batch)
loss = criterion(logits.reshape(-1, 100), batch.reshape(-1))  # <- here
""",
            fixed=None,
        ),
        Invalid(
            """import torch
import torch.nn as nn
import torch.nn.functional as F


class LM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.head = nn.Linear(64, vocab)

    def forward(self, x):
        out, _ = self.gru(self.embed(x))
        return self.head(out)


model = LM(100)
batch = torch.randint(0, 100, (8, 21))
logits = model(batch[:, :-1])
loss = F.cross_entropy(logits.reshape(-1, 100), batch[:, :-1].reshape(-1))  # <- here
""",
            fixed=None,
        ),
    )

    def check(self, ctx: Context):
        for copy in ctx.facts.copy_targets:
            target = ctx.one_line(copy.target)
            arg = ctx.one_line(copy.arg)
            message = (f"the target `{target}` holds the same tokens as the model's input "
                       f"`{arg}`: a unidirectional {copy.module.kind if copy.module else 'model'}"
                       " learns to copy them; predict the next token (input `x[:, :-1]`, "
                       "target `x[:, 1:]`)")
            yield self.finding(copy.node, message, data=copy)
