"""RNN010's handoff case: the first rows of a bidirectional encoder's final state given to a
decoder as its initial state (the layer-major stacking makes them layer 0's two directions)."""
from pathlib import Path

import pytest

from rnnshape.api import check_source

CHATBOT = '''import torch
import torch.nn as nn


class EncoderRNN(nn.Module):
    def __init__(self, hidden_size, embedding, n_layers=1):
        super().__init__()
        self.n_layers = n_layers
        self.embedding = embedding
        self.gru = nn.GRU(hidden_size, hidden_size, n_layers, bidirectional={bidirectional})

    def forward(self, input_seq, hidden=None):
        outputs, hidden = self.gru(self.embedding(input_seq), hidden)
        return outputs, hidden


class DecoderRNN(nn.Module):
    def __init__(self, embedding, hidden_size, n_layers=1):
        super().__init__()
        self.n_layers = n_layers
        self.embedding = embedding
        self.gru = nn.GRU(hidden_size, hidden_size, n_layers)

    def forward(self, input_step, last_hidden):
        return self.gru(self.embedding(input_step), last_hidden)


embedding = nn.Embedding(7000, 500)
encoder = EncoderRNN(500, embedding, 2)
decoder = DecoderRNN(embedding, 500, 2)


def train(input_variable, batch_size):
    encoder_outputs, encoder_hidden = encoder(input_variable)
    decoder_input = torch.LongTensor([[1 for _ in range(batch_size)]])
    decoder_hidden = {handoff}
    decoder_output, decoder_hidden = decoder(decoder_input, decoder_hidden)
'''


def _rnn010(source):
    return [(d.row, d.message) for d in check_source(source) if d.code == "RNN010"]


def test_chatbot_handoff_across_classes_is_reported_at_the_slice():
    source = CHATBOT.format(bidirectional=True, handoff="encoder_hidden[:decoder.n_layers]")
    [(row, message)] = _rnn010(source)
    assert row == 36
    assert "`encoder_hidden[:decoder.n_layers]` of bidirectional `self.gru` starts the other " \
           "`self.gru`" in message
    assert "the first 2 rows" in message and "`encoder_hidden[0::2]`" in message


@pytest.mark.parametrize("bidirectional, handoff", [
    (False, "encoder_hidden[:decoder.n_layers]"),  # one direction: rows are layers
    (True, "encoder_hidden[0::2]"),                 # each layer's forward state
    (True, "encoder_hidden[0::2] + encoder_hidden[1::2]"),
    (True, "None"),
])
def test_handoffs_that_take_one_state_per_layer_are_silent(bidirectional, handoff):
    assert _rnn010(CHATBOT.format(bidirectional=bidirectional, handoff=handoff)) == []


def test_first_rows_not_handed_to_a_module_are_not_this_finding():
    source = '''import torch
import torch.nn as nn

encoder = nn.GRU(10, 20, num_layers=2, bidirectional=True)
_, h_n = encoder(torch.randn(5, 3, 10))
first = h_n[:2]
'''
    assert _rnn010(source) == []


def test_lstm_state_tuple_is_one_finding_and_one_layer_handoff_names_the_direction():
    source = '''import torch
import torch.nn as nn

encoder = nn.LSTM(10, 20, bidirectional=True)
decoder = nn.LSTM(10, 20)
_, (h_n, c_n) = encoder(torch.randn(5, 3, 10))
out, _ = decoder(torch.randn(4, 3, 10), (h_n[:1], c_n[:1]))
'''
    [(row, message)] = _rnn010(source)
    assert row == 7
    assert "row 0 of the stacked state is the forward direction of the first layer only" in message
