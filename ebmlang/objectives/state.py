"""What an objective carries from one update to the next (checkpointed with the parameters)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ObjectiveState:
    """Arrays updated in place by the objective; each group is saved under its own prefix
    (`chains.<layer>`, `activity.<layer>`, `offset.<layer>`, `counter.<name>`) so a resumed run
    continues exactly."""

    chains: dict | None = None                      # persistent chains (PCD, DBM)
    activity: dict = field(default_factory=dict)    # running mean activation, for sparsity
    offsets: dict = field(default_factory=dict)     # centring offsets μ_l (empty until the first step)
    counters: dict = field(default_factory=dict)    # step counts (a GAN's discriminator steps), host ints
