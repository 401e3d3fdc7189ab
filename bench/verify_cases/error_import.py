# expect: error
# the model's module imports something that is not installed.
import torch
import torch.nn as nn
import not_a_module_rnnshape_bench

lstm = nn.LSTM(3, 4)
out, h = lstm(torch.zeros(5, 2, 6))
