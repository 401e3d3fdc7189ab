"""Rules: one module per family, each rule registering itself by subclassing ``Rule``."""
from rnnshape.rules import devices, heads, hygiene, layout, outputs, packing, states, targets, training
from rnnshape.rules.base import REGISTRY, Context, Finding, Invalid, Rule

FAMILIES = (devices, heads, hygiene, layout, outputs, packing, states, targets, training)


def all_rules() -> list[Rule]:
    """Every rule, in code order (the docs page and ``rule --all`` list them so)."""
    return [REGISTRY[code] for code in sorted(REGISTRY)]


__all__ = ["REGISTRY", "Context", "Finding", "Invalid", "Rule", "all_rules"]
