"""The evaluation harness: the paper's few-shot protocol on real per-user datasets or synthetic users."""

#: The learning-curve protocol's ways of asking the user (evaluation.learning_curves); here, free of torch,
#: for the command line's choices.
CURVE_STRATEGIES = (
    "random stars",
    "suggested stars",
    "random pairs",
    "active pairs",
    "half stars then active pairs",
)
