"""The bug that started rnnshape: a next-token LSTM on one-hot words.

As written in onehot_lstm_bug.py, the encoder returns (1, seq, vocab) -- a batch of one in
front -- and the loops then apply ``permute(0, 2, 1)``, which was meant for an encoder
returning (seq, vocab, 1).  The default LSTM reads (time, batch, feature), gets
(1, vocab, seq) and crashes.  ``rnnshape check`` shows the shape trace;
``rnnshape fix`` produced onehot_lstm_fixed_permute.py from it and
``rnnshape fix --batch-first`` produced onehot_lstm_fixed_batch_first.py.
"""
from collections import defaultdict

import numpy as np
import torch
import torch.nn as nn

np.random.seed(42)
torch.manual_seed(42)


def generate_dataset(num_sequences=60):
    samples = []
    for _ in range(num_sequences):
        num_tokens = np.random.randint(1, 8)
        samples.append(["a"] * num_tokens + ["b"] * num_tokens + ["EOS"])
    return samples


def sequences_to_dicts(sequences):
    word_to_idx = defaultdict(lambda: len(word_to_idx))
    for sequence in sequences:
        for word in sequence:
            word_to_idx[word]
    word_to_idx["UNK"]
    idx_to_word = {idx: word for word, idx in word_to_idx.items()}
    return dict(word_to_idx), idx_to_word


def split(sequences):
    n_train = int(len(sequences) * 0.8)
    n_val = int(len(sequences) * 0.1)
    train = [(s[:-1], s[1:]) for s in sequences[:n_train]]
    val = [(s[:-1], s[1:]) for s in sequences[n_train:n_train + n_val]]
    test = [(s[:-1], s[1:]) for s in sequences[n_train + n_val:]]
    return train, val, test


sequences = generate_dataset()
word_to_idx, idx_to_word = sequences_to_dicts(sequences)
vocab_size = len(word_to_idx)
training_set, validation_set, test_set = split(sequences)


def one_hot_encode(idx, vocab_size):
    one_hot = np.zeros(vocab_size)
    one_hot[idx] = 1.0
    return one_hot


def one_hot_encode_sequence(sequence, vocab_size):
    encoding = np.array([one_hot_encode(word_to_idx[word], vocab_size) for word in sequence])
    encoding = encoding.reshape(1, len(sequence), vocab_size)
    return encoding


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.lstm = nn.LSTM(input_size=vocab_size, hidden_size=50, num_layers=1, bidirectional=False, batch_first=True)
        self.l_out = nn.Linear(in_features=50, out_features=vocab_size, bias=False)

    def forward(self, x):
        x, (h, c) = self.lstm(x)
        x = x.view(-1, self.lstm.hidden_size)
        x = self.l_out(x)
        return x


num_epochs = 20
net = Net()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=3e-4)

training_loss, validation_loss = [], []
for i in range(num_epochs):
    epoch_training_loss = 0
    epoch_validation_loss = 0

    net.eval()
    with torch.no_grad():
        for inputs, targets in validation_set:
            inputs_one_hot = one_hot_encode_sequence(inputs, vocab_size)
            targets_idx = [word_to_idx[word] for word in targets]
            inputs_one_hot = torch.Tensor(inputs_one_hot)
            targets_idx = torch.LongTensor(targets_idx)
            outputs = net.forward(inputs_one_hot)
            loss = criterion(outputs, targets_idx)
            epoch_validation_loss += loss.detach().numpy()

    net.train()
    for inputs, targets in training_set:
        inputs_one_hot = one_hot_encode_sequence(inputs, vocab_size)
        targets_idx = [word_to_idx[word] for word in targets]
        inputs_one_hot = torch.Tensor(inputs_one_hot)
        targets_idx = torch.LongTensor(targets_idx)
        outputs = net.forward(inputs_one_hot)
        loss = criterion(outputs, targets_idx)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        epoch_training_loss += loss.detach().numpy()

    training_loss.append(epoch_training_loss / len(training_set))
    validation_loss.append(epoch_validation_loss / len(validation_set))
    if i % 5 == 0:
        print(f"Epoch {i}, training loss: {training_loss[-1]:.4f}, "
              f"validation loss: {validation_loss[-1]:.4f}")

inputs, targets = test_set[1]
inputs_one_hot = one_hot_encode_sequence(inputs, vocab_size)
inputs_one_hot = torch.Tensor(inputs_one_hot)
outputs = net.forward(inputs_one_hot).data.numpy()
print("Input sequence:", inputs)
print("Target sequence:", targets)
print("Predicted sequence:", [idx_to_word[np.argmax(output)] for output in outputs])
