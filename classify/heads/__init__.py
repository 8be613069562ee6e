"""The heads, one module each, and the registry every stage reads them from: adding a head is one
module (a `classify.heads.base.Head`) and one entry below."""

from classify.heads.base import Head, HeadError, check_trainable
from classify.heads.dense import Dense
from classify.heads.knn import Knn
from classify.heads.logreg import LogReg
from classify.heads.mlp import Mlp

REGISTRY: dict[str, type[Head]] = {head.name: head for head in (LogReg, Dense, Mlp, Knn)}

__all__ = ["REGISTRY", "Head", "HeadError", "check_trainable"]
