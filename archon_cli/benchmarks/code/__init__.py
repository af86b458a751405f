"""The code benchmarks (HumanEval, MBPP, CodeContests): model-written programs run in the sandbox."""
