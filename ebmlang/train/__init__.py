"""Stage 5, train: one loop over stages and objectives, SGD with momentum."""
from .optim import Optimizers, adopt_averages, learning_rate, momentum, sgd_update
from .trainer import Trainer, TrainState

__all__ = ["Optimizers", "TrainState", "Trainer", "adopt_averages", "learning_rate", "momentum",
           "sgd_update"]
