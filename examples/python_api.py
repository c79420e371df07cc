"""The Python API end to end: load a spec with overrides, compile it, query the model, train it.

    python examples/python_api.py
"""
import numpy as np

import ebmlang
from ebmlang.train import Trainer

spec = ebmlang.load_spec("specs/rbm-bars-and-stripes.yaml", overrides=["train.epochs=30"])
model = ebmlang.compile_spec(spec)                    # Spec -> graph -> Program -> Model
data = ebmlang.load_data(spec)                        # train (1000, 9), test (14, 9): every pattern
v = data.test

print("schedule:", [[p.layer for p in block] for block in model.program.schedule])
print("F(v) before:", np.round(model.free_energy({"v": v})[:4], 3))
print("log p(v) before:", round(float(model.log_likelihood({"v": v}).mean()), 3))

trainer = Trainer(model.program, spec.train, clamp=("v",), seed=spec.seed)
state = trainer.init_state(model.params)
while state.epoch < spec.train.epochs:
    trainer.run_epoch(state, data.train, "v")

print("log p(v) after:", round(float(model.log_likelihood({"v": v}).mean()), 3),
      "(data entropy bound:", round(-np.log(len(v)), 3), ")")
forward = model.ais_log_partition(runs=200, steps=1000, data={"v": data.train})
reverse = model.reverse_ais({"v": v}, steps=1000, base_data={"v": data.train})
print(f"log Z: exact {model.log_partition():.3f}, AIS {forward.log_z:.3f} "
      f"[{forward.lower:.3f}, {forward.upper:.3f}], reverse AIS {reverse.log_z:.3f}")
print("p(h=1 | first pattern):", np.round(model.conditional("h", {"v": v[:1]}).prob, 2))
samples = model.sample(5, sweeps=500, seed=1)["v"].reshape(5, 3, 3)
print("five samples after 500 sweeps:\n", samples.astype(int))
