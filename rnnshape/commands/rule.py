"""``rnnshape rule``: a rule's documentation, or the list of rules."""
from __future__ import annotations

import sys

from rnnshape.rule_docs import rule_markdown, rules_table
from rnnshape.rules import REGISTRY


def run_rule(args) -> int:
    if args.all or not args.code:
        print(rules_table())
        return 0
    rule = REGISTRY.get(args.code.upper())
    if rule is None:
        print(f"rnnshape: error: unknown rule {args.code}", file=sys.stderr)
        return 2
    print(rule_markdown(rule, level=1))
    return 0
