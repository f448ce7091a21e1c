"""`python -m advisory.run.worker`: one shard of a split run, started by `workers`, run
by the one `run.run` like every other run."""

from advisory.run import workers
from advisory.run.run import run

if __name__ == "__main__":
    workers.main(run)
