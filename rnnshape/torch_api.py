"""What we know about torch and numpy, written down so that check/fix never import them.

Signatures are (positional parameter names, defaults).  Only the parameters that change
shapes are listed; others are accepted and ignored.
"""
from __future__ import annotations

RECURRENT = {"LSTM", "GRU", "RNN"}
RECURRENT_CELLS = {"LSTMCell", "GRUCell", "RNNCell"}
# ``x.to(torch.float16)`` converts; it does not move.
DTYPES = frozenset({"float", "float16", "float32", "float64", "double", "half", "bfloat16", "long",
                    "int", "int8", "int16", "int32", "int64", "bool", "uint8", "short",
                    "complex64", "complex128", "cfloat"})

_RNN_COMMON = ("input_size", "hidden_size", "num_layers")
CONSTRUCTORS: dict[str, tuple[tuple[str, ...], dict[str, object]]] = {
    "LSTM": (_RNN_COMMON + ("bias", "batch_first", "dropout", "bidirectional", "proj_size"),
             {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
              "bidirectional": False, "proj_size": 0}),
    "GRU": (_RNN_COMMON + ("bias", "batch_first", "dropout", "bidirectional"),
            {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
             "bidirectional": False}),
    "RNN": (_RNN_COMMON + ("nonlinearity", "bias", "batch_first", "dropout", "bidirectional"),
            {"num_layers": 1, "nonlinearity": "tanh", "bias": True, "batch_first": False,
             "dropout": 0.0, "bidirectional": False}),
    "LSTMCell": (("input_size", "hidden_size", "bias"), {"bias": True}),
    "GRUCell": (("input_size", "hidden_size", "bias"), {"bias": True}),
    "RNNCell": (("input_size", "hidden_size", "bias", "nonlinearity"),
                {"bias": True, "nonlinearity": "tanh"}),
    "Linear": (("in_features", "out_features", "bias"), {"bias": True}),
    "LazyLinear": (("out_features", "bias"), {"bias": True}),
    "Embedding": (("num_embeddings", "embedding_dim", "padding_idx"), {"padding_idx": None}),
    "Conv1d": (("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation"),
               {"stride": 1, "padding": 0, "dilation": 1}),
    "Conv2d": (("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation"),
               {"stride": 1, "padding": 0, "dilation": 1}),
    **{kind: (("kernel_size", "stride", "padding", "dilation"),
              {"stride": None, "padding": 0, "dilation": 1})
       for kind in ("MaxPool1d", "MaxPool2d")},
    **{kind: (("kernel_size", "stride", "padding"), {"stride": None, "padding": 0})
       for kind in ("AvgPool1d", "AvgPool2d")},
    **{kind: (("output_size",), {})
       for kind in ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d",
                    "AdaptiveMaxPool2d")},
    "Flatten": (("start_dim", "end_dim"), {"start_dim": 1, "end_dim": -1}),
    "Dropout": (("p",), {"p": 0.5}),
    "LayerNorm": (("normalized_shape",), {}),
    "BatchNorm1d": (("num_features",), {}),
    "MultiheadAttention": (("embed_dim", "num_heads", "dropout", "bias", "add_bias_kv",
                            "add_zero_attn", "kdim", "vdim", "batch_first"),
                           {"dropout": 0.0, "batch_first": False}),
}

# Transformer blocks: the output has the input's shape (the query's, for a decoder).
TRANSFORMER_BLOCKS = {"TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
                      "TransformerDecoder"}

# nn modules (and functional forms) that keep the shape of their input.
SHAPE_PRESERVING_MODULES = {
    "Dropout", "ReLU", "Tanh", "Sigmoid", "GELU", "LeakyReLU", "ELU", "SELU", "Softmax",
    "LogSoftmax", "Identity", "LayerNorm", "Softplus", "SiLU", "Mish", "Hardtanh", "PReLU",
    "Dropout1d", "AlphaDropout", "Dropout2d", "ReLU6", "Hardswish", "Hardsigmoid", "Softsign",
    "Tanhshrink", "LogSigmoid", "Softmin", "CELU", "RReLU", "Threshold", "BatchNorm1d",
    "BatchNorm2d", "GroupNorm", "InstanceNorm1d", "RMSNorm",
}
SHAPE_PRESERVING_FUNCS = {
    "relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "selu", "softmax", "log_softmax",
    "dropout", "silu", "softplus", "abs", "exp", "log", "neg", "sqrt", "clone", "contiguous",
    "float", "double", "half", "long", "int", "bool", "to", "cuda", "cpu", "detach", "type",
    "requires_grad_", "clamp", "clip", "sign", "sin", "cos", "pow", "mul", "add", "sub", "div",
    "type_as", "bfloat16", "pin_memory", "relu_", "tanh_", "sigmoid_", "round", "floor", "ceil",
    "masked_fill", "layer_norm", "normalize", "log1p", "expm1", "square", "reciprocal",
    # more elementwise math, and in-place forms that return their receiver
    "cumsum", "cumprod", "nan_to_num", "clamp_min", "clamp_max", "erf", "rsqrt", "log2", "log10",
    "trunc", "frac", "tan", "sinh", "cosh", "asin", "acos", "atan", "relu6", "hardtanh",
    "softsign", "logsigmoid", "softmin", "mish", "hardswish", "gumbel_softmax", "batch_norm",
    "group_norm", "instance_norm", "alpha_dropout", "dropout1d", "feature_alpha_dropout",
    "clamp_", "masked_fill_", "fill_", "zero_", "normal_", "uniform_", "bernoulli_", "add_",
    "mul_", "sub_", "div_", "exp_", "log_", "abs_", "neg_", "sqrt_", "pow_", "clip_",
    "requires_grad", "share_memory_", "cos_", "sin_", "copy_", "index_fill_", "roll", "flip",
    "fliplr", "flipud", "rot90_", "tril", "triu", "masked_scatter", "scatter", "scatter_",
    "index_put", "index_put_", "clamp_min_", "clamp_max_", "sign_", "round_",
}
# Reductions: with ``dim``/``axis`` the dim goes (or stays as 1 with ``keepdim``), without it
# the result is a scalar.
REDUCTIONS = {"sum", "mean", "max", "min", "amax", "amin", "std", "var", "prod", "norm",
              "argmax", "argmin", "logsumexp", "median", "all", "any", "count_nonzero", "nansum",
              "nanmean"}
# Elementwise functions of several tensors: the result has the operands' broadcast shape.
BROADCASTING_FUNCS = {"maximum", "minimum", "where", "fmax", "fmin", "atan2", "hypot",
                      "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
                      "pow", "power", "lerp"}

CLASSIFICATION_LOSSES = {"CrossEntropyLoss", "NLLLoss"}
LOSSES = CLASSIFICATION_LOSSES | {
    "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss",
    "CTCLoss", "PoissonNLLLoss", "GaussianNLLLoss",
}
FUNCTIONAL_LOSSES = {"cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
                     "binary_cross_entropy_with_logits", "smooth_l1_loss", "huber_loss",
                     "kl_div", "ctc_loss"}

# torch.* tensor constructors whose positional ints (or a size tuple) are the shape.
TORCH_SIZE_CONSTRUCTORS = {"zeros", "ones", "randn", "rand", "empty", "full", "randint",
                           "Tensor", "FloatTensor", "LongTensor", "DoubleTensor", "IntTensor",
                           "BoolTensor", "zeros_like", "ones_like", "randn_like", "rand_like",
                           "empty_like", "full_like"}
# torch.* functions that wrap data into a tensor of the data's shape.
TORCH_FROM_DATA = {"tensor", "from_numpy", "as_tensor", "asarray", "Tensor", "FloatTensor",
                   "LongTensor", "DoubleTensor", "IntTensor", "BoolTensor"}
NUMPY_SIZE_CONSTRUCTORS = {"zeros", "ones", "empty", "full"}

NO_GRAD_CONTEXTS = {"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
                    "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode",
                    "torch.set_grad_enabled"}
TORCH_SEEDS = {"torch.manual_seed", "torch.random.manual_seed", "torch.cuda.manual_seed",
               "torch.cuda.manual_seed_all", "lightning.seed_everything",
               "pytorch_lightning.seed_everything", "lightning.pytorch.seed_everything",
               "transformers.set_seed", "lightning.fabric.seed_everything",
               "pytorch_lightning.utilities.seed.seed_everything", "accelerate.utils.set_seed"}
OTHER_SEEDS = {"numpy.random.seed", "random.seed"}
RANDOM_INITS = {f"torch.nn.init.{name}" for name in (
    "uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "trunc_normal_", "sparse_")}
TORCH_RANDOM = {f"torch.{name}" for name in (
    "rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like", "normal",
    "bernoulli", "multinomial", "poisson")} | {
    "torch.utils.data.DataLoader", "torch.utils.data.random_split",
    "torch.utils.data.dataloader.DataLoader", "torch.nn.functional.dropout"}

NN_PREFIXES = ("torch.nn.", "torch.nn.modules.rnn.", "torch.nn.modules.linear.",
               "torch.nn.modules.sparse.", "torch.nn.modules.conv.", "torch.nn.modules.loss.",
               "torch.nn.modules.dropout.", "torch.nn.modules.activation.",
               "torch.nn.modules.normalization.", "torch.nn.modules.batchnorm.")


def nn_class(qualname: str | None) -> str | None:
    """``torch.nn.modules.rnn.LSTM`` -> ``LSTM``; None when not a torch.nn class."""
    if not qualname:
        return None
    for prefix in NN_PREFIXES:
        if qualname.startswith(prefix):
            rest = qualname[len(prefix):]
            if "." not in rest:
                return rest
    return None


def is_nn_module_base(qualname: str | None) -> bool:
    return qualname in {"torch.nn.Module", "torch.nn.modules.module.Module",
                        "lightning.LightningModule", "pytorch_lightning.LightningModule",
                        "lightning.pytorch.LightningModule"}
