"""Rules: one module per family.  Importing ``all_rules`` registers them all."""
from rnnshape.rules.base import REGISTRY, Context, Finding, Rule, all_rules

__all__ = ["REGISTRY", "Context", "Finding", "Rule", "all_rules"]
