"""Symbolic dims and shapes: what the tracker's proofs rest on."""
import pytest

from rnnshape.shapes.dims import (BATCH, FEATURE, TIME, Dim, Shape, count_role, normalize_axis,
                                  role_from_name)

H = Dim.sym("hidden")
E = Dim.sym("embed")
TWO = Dim.const(2)


# ---------------------------------------------------------------------- construction
def test_const_is_known_with_value():
    d = Dim.const(50)
    assert d.known and d.value == 50 and str(d) == "50"


def test_zero_const_has_value_zero():
    assert Dim.const(0).value == 0 and str(Dim.const(0)) == "0"


def test_symbol_is_known_but_has_no_value():
    assert H.known and H.value is None and str(H) == "hidden"


def test_unknown_dim():
    d = Dim.unknown()
    assert not d.known and d.value is None and str(d) == "?"


def test_symbol_takes_its_role_from_its_name():
    assert Dim.sym("batch_size").role == BATCH
    assert Dim.sym("seq_len").role == TIME
    assert Dim.sym("vocab_size").role == FEATURE
    assert Dim.sym("n").role is None


def test_explicit_role_overrides_the_name():
    assert Dim.sym("seq_len", role=FEATURE).role == FEATURE


def test_with_role_keeps_the_size_and_drops_origin_with_the_role():
    d = Dim.const(4).with_role(BATCH, "dim 0 of a DataLoader batch")
    assert d.value == 4 and d.role == BATCH and d.origin == "dim 0 of a DataLoader batch"
    cleared = d.with_role(None, "ignored")
    assert cleared.role is None and cleared.origin is None


# ---------------------------------------------------------------------- equality
def test_role_does_not_take_part_in_equality():
    assert Dim.const(8, BATCH) == Dim.const(8, TIME)
    assert Dim.const(8, BATCH).same(Dim.const(8, TIME)) is True


@pytest.mark.parametrize("a, b, expected", [
    (Dim.const(3), Dim.const(3), True),
    (Dim.const(3), Dim.const(4), False),
    (H, Dim.sym("hidden"), True),
    (H * TWO, H, False),          # 2h - h = h >= 1
    (H, H * TWO, False),
    (H + Dim.const(1), H, False),  # differs by a constant
    (H - Dim.const(1), H, False),
    (H, E, None),                  # two sizes the code never relates
    (H * TWO, E, None),
    (H, Dim.const(64), None),      # a symbol may be any size
    (H, Dim.const(0), False),      # ... but every size is at least 1
    (H, Dim.const(-1), False),
    (H, Dim.const(1), None),
    (H - E, Dim.const(0), None),
    (Dim.unknown(), Dim.unknown(), None),
    (Dim.unknown(), Dim.const(3), None),
    (H, Dim.unknown(), None),
])
def test_same(a, b, expected):
    assert a.same(b) is expected


def test_two_unknowns_are_not_equal_values_either():
    assert Dim.unknown().same(Dim.unknown()) is None


# ---------------------------------------------------------------------- arithmetic
def test_addition_and_subtraction_are_polynomial():
    assert str(H + H) == "2*hidden"
    assert (H + H).same(H * TWO) is True
    assert str(H - Dim.const(1)) == "hidden - 1"
    assert (H - H).value == 0


def test_multiplication_is_commutative_and_distributes():
    assert (TWO * H).same(H * TWO) is True
    assert (H * E).same(E * H) is True
    assert ((H + E) * TWO).same(H * TWO + E * TWO) is True
    assert str(H * E) == "embed*hidden"


def test_constant_arithmetic_folds():
    assert (Dim.const(3) * Dim.const(4)).value == 12
    assert (Dim.const(3) + Dim.const(4) - Dim.const(7)).value == 0


def test_arithmetic_with_unknown_is_unknown():
    for result in (H + Dim.unknown(), Dim.unknown() - H, H * Dim.unknown()):
        assert not result.known


def test_scaling_keeps_the_role_but_a_product_of_symbols_has_none():
    assert (Dim.sym("hidden_size") * TWO).role == FEATURE
    assert (TWO * Dim.sym("hidden_size")).role == FEATURE
    assert (Dim.sym("batch_size") * Dim.sym("seq_len")).role is None


def test_a_size_shifted_by_a_constant_or_a_loop_index_keeps_its_role():
    assert (Dim.sym("seq_len") - Dim.const(1)).role == TIME
    window = Dim.sym("window")
    i = Dim.index("i")
    length = (i + window + Dim.const(1)) - (i + Dim.const(1))
    assert length.same(window) and length.role == TIME


def test_sum_of_two_meaningful_sizes_has_no_role():
    assert (Dim.sym("hidden_size") + Dim.sym("embed_dim")).role is None
    assert (Dim.sym("seq_len") - Dim.sym("window")).role is None


# ---------------------------------------------------------------------- floordiv
def test_floordiv_of_constants_follows_python():
    assert Dim.const(7).floordiv(Dim.const(2)).value == 3
    assert Dim.const(-7).floordiv(Dim.const(2)).value == -4


def test_floordiv_divides_exact_coefficients():
    d = (H * Dim.const(4)).floordiv(TWO)
    assert d.same(H * TWO) is True


def test_floordiv_keeps_the_role_of_an_exact_division():
    assert (Dim.sym("hidden_size") * TWO).floordiv(TWO).role == FEATURE


def test_inexact_floordiv_becomes_an_opaque_symbol_equal_to_itself():
    a = H.floordiv(TWO)
    b = Dim.sym("hidden").floordiv(Dim.const(2))
    assert a.known and a.value is None
    assert a.same(b) is True
    assert a.same(H) is None


def test_floordiv_by_zero_is_unknown():
    assert not Dim.const(7).floordiv(Dim.const(0)).known
    assert not H.floordiv(Dim.const(0)).known


def test_floordiv_with_unknown_is_unknown():
    assert not H.floordiv(Dim.unknown()).known
    assert not Dim.unknown().floordiv(TWO).known


def test_exact_div():
    b, t, f = Dim.sym("b"), Dim.sym("t"), Dim.sym("f")
    assert (b * t * f).exact_div(b * t).same(f) is True
    assert Dim.const(640).exact_div(Dim.const(80)).value == 8
    assert Dim.const(7).exact_div(TWO) is None
    assert (b * t).exact_div(f) is None
    assert (b * t).exact_div(b + t) is None  # only single-term divisors
    assert H.exact_div(Dim.unknown()) is None


# ---------------------------------------------------------------------- display
@pytest.mark.parametrize("dim, text", [
    (H * TWO, "2*hidden"),
    (Dim.const(0) - H, "-hidden"),
    (H * TWO + E * Dim.const(3) - Dim.const(1), "3*embed + 2*hidden - 1"),
    (H + Dim.const(1), "hidden + 1"),
    (Dim.const(-3), "-3"),
])
def test_str(dim, text):
    assert str(dim) == text


def test_describe_shows_the_role():
    assert Dim.sym("len(sequence)").describe() == "len(sequence)[time]"
    assert Dim.const(1, BATCH).describe() == "1[batch]"
    assert Dim.sym("n").describe() == "n"


# ---------------------------------------------------------------------- roles from names
@pytest.mark.parametrize("name, role", [
    ("batch_size", BATCH),
    ("bs", BATCH),
    ("batchSize", BATCH),
    ("seq_len", TIME),
    ("seqLen", TIME),
    ("max_len", TIME),
    ("max_length", TIME),
    ("window_size", TIME),
    ("num_steps", TIME),
    ("len(sequence)", TIME),
    ("len(tokens)", TIME),
    ("len(batch)", BATCH),
    ("vocab_size", FEATURE),
    ("hidden_size", FEATURE),
    ("embedding_dim", FEATURE),
    ("input_size", FEATURE),
    ("input_dim", FEATURE),
    ("n_features", FEATURE),
    ("nhid", FEATURE),
    ("ntokens", FEATURE),
    ("num_classes", FEATURE),
    # a strong feature word wins over a word about sequences
    ("text_vocab_size", FEATURE),
    ("sentence_embedding_dim", FEATURE),
    ("seq_feature_dim", FEATURE),
    # ... unless the name ends in a length: how many of them (espnet ``hidden_length``)
    ("hidden_length", TIME),
    ("input_len", TIME),
    ("feature_len", FEATURE),
    ("vocab_length", FEATURE),
    # the number of items of one sentence is its length; of a collection of them, a batch
    ("len(sentences[0].split())", TIME),
    ("len(sentences[0])", TIME),
    ("len(self.sequences)", BATCH),
    # too vague to mean anything
    ("n", None),
    ("x", None),
    ("T", None),
    ("dim", None),
    ("size", None),
    ("num_layers", None),
    ("", None),
])
def test_role_from_name(name, role):
    assert role_from_name(name) == role


# ---------------------------------------------------------------------- shapes
def test_shape_display_with_roles():
    shape = Shape.of(Dim.const(1, BATCH), Dim.sym("len(sequence)"), Dim.sym("vocab_size"))
    assert str(shape) == "(1[batch], len(sequence)[time], vocab_size[feature])"


def test_shape_display_of_rank_one_and_zero():
    assert str(Shape.of(H)) == "(hidden[feature],)"
    assert str(Shape(())) == "()"


def test_unknown_rank_shape_may_know_its_last_dim():
    assert str(Shape.unknown()) == "(?)"
    shape = Shape.unknown(H * TWO)
    assert shape.rank is None
    assert str(shape) == "(..., 2*hidden[feature])"
    assert shape.last_dim.same(H * TWO) is True


def test_shape_rank_and_last_dim():
    shape = Shape.of(Dim.const(4), Dim.unknown(), E)
    assert shape.rank == 3
    assert shape.last_dim is E
    assert Shape(()).last_dim is None


def test_shapes_compare_by_dims_not_roles():
    assert Shape.of(Dim.const(4, BATCH), H) == Shape.of(Dim.const(4), H)
    assert Shape.of(Dim.const(4), H) != Shape.of(H, Dim.const(4))


@pytest.mark.parametrize("axis, rank, expected", [
    (0, 3, 0), (-1, 3, 2), (2, 3, 2), (3, 3, None), (-4, 3, None), (0, 0, None),
])
def test_normalize_axis(axis, rank, expected):
    assert normalize_axis(axis, rank) == expected


@pytest.mark.parametrize("name, role", [
    ("sequences", BATCH),
    ("train_sentences", BATCH),
    ("batch", BATCH),
    ("sequence", TIME),
    ("tokens", TIME),
    ("sequence_and_length", None),  # each item is a (sequence, length) pair
    ("names", None),
    ("data", None),
])
def test_count_role(name, role):
    assert count_role(name) == role
