"""Stage 5, train: phases (positive / negative), SGD, and the CD / PCD trainer."""
from .optim import learning_rate, momentum, sgd_update
from .phases import Phases, negative, phases_for, positive
from .trainer import Trainer, TrainState

__all__ = ["Phases", "TrainState", "Trainer", "learning_rate", "momentum", "negative", "phases_for",
           "positive", "sgd_update"]
