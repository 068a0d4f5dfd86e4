"""Loading: turning a model file and the data settings into a Problem (model builder, batches, loss)."""

from gradscope.loading.problem import Problem, load_problem

__all__ = ["Problem", "load_problem"]
