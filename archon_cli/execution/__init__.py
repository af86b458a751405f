"""Running model-written code: the sandbox (a limited, isolated process per run, or a reused one
that forks a fresh process per program), its child program and control groups, and pulling code
out of replies. Below the components (a generator's programs and an evaluator's executed tests
run here) and the code benchmarks (their scorers)."""
