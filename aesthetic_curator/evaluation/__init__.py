"""The evaluation harness: the paper's few-shot protocol on real per-user datasets or synthetic users."""
