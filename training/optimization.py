"""Learning-rate schedules, optimizers and compiling a training model.

`compile_model` builds the schedule (`make_schedule`: linear warmup, then
cosine, step or constant) and the optimizer (`make_optimizer`: SGD with
Nesterov momentum or AdamW, decoupled weight decay off for biases and
normalisation parameters) from the options of
`training.options.add_common_arguments`, and compiles the model. Call it
inside `strategy.scope()`.

Example:

```python
from training import optimization

schedule = optimization.make_schedule("cosine", 0.1, total_steps=100, warmup_steps=10)
assert abs(float(schedule(0)) - 0.01) < 1e-6
optimizer = optimization.make_optimizer("sgd", schedule, 1e-4, 0.9)
```
"""

import math

import keras
from keras import ops

from training.options import OPTIMIZERS, SCHEDULES
from training.runtime import jit_compile_value

# Fractions of the post-warmup steps where the "step" schedule divides the
# learning rate by 10 (the ImageNet ResNet recipe: epochs 30, 60, 80 of 90).
STEP_FRACTIONS = (1 / 3, 2 / 3, 8 / 9)
STEP_GAMMA = 0.1

# Weights whose names contain one of these are not weight-decayed (biases,
# normalisation scales and offsets).
NO_DECAY_NAMES = ("bias", "gamma", "beta")


@keras.saving.register_keras_serializable(package="keras_resize_training")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `base_lr`, then cosine decay, steps or constant.

    During the first `warmup_steps` steps the rate rises linearly,
    `base_lr * (step + 1) / warmup_steps`. After warmup:

    - `cosine`: `base_lr * 0.5 * (1 + cos(pi * t))`, `t` going from 0
      to 1 over the remaining `total_steps - warmup_steps` steps;
    - `step`: `base_lr * 0.1 ** k`, `k` the number of `step_boundaries`
      (absolute step numbers) at or below the step;
    - `constant`: `base_lr`.
    """

    def __init__(self, name, base_lr, total_steps, warmup_steps=0, step_boundaries=()):
        if name not in SCHEDULES:
            raise ValueError(
                f"Unknown schedule. Expected one of {list(SCHEDULES)}. "
                f"Received: schedule={name!r}"
            )
        self.name = name
        self.base_lr = float(base_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.step_boundaries = [int(b) for b in step_boundaries]

    def __call__(self, step):
        step = ops.cast(step, "float32")
        base = ops.cast(self.base_lr, "float32")
        warmup = float(self.warmup_steps)
        if self.name == "cosine":
            span = float(max(self.total_steps - self.warmup_steps, 1))
            t = ops.clip((step - warmup) / span, 0.0, 1.0)
            lr = base * 0.5 * (1.0 + ops.cos(math.pi * t))
        elif self.name == "step":
            k = ops.zeros((), "float32")
            for b in self.step_boundaries:
                k = k + ops.cast(step >= float(b), "float32")
            lr = base * ops.power(STEP_GAMMA, k)
        else:
            lr = base + 0.0 * step
        if self.warmup_steps > 0:
            lr = ops.where(step < warmup, base * (step + 1.0) / warmup, lr)
        return lr

    def get_config(self):
        return {
            "name": self.name,
            "base_lr": self.base_lr,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "step_boundaries": list(self.step_boundaries),
        }


def make_schedule(name, base_lr, total_steps, warmup_steps, step_boundaries=None):
    """Builds the learning-rate schedule named by `--schedule`.

    Args:
        name: `"cosine"`, `"step"` or `"constant"`.
        base_lr: peak learning rate (reached at the end of warmup).
        total_steps: total optimizer steps of the run (the cosine reaches 0
            there).
        warmup_steps: steps of linear warmup from ~0 to `base_lr`.
        step_boundaries: absolute steps where `"step"` divides the rate by
            10; defaults to 1/3, 2/3 and 8/9 of the post-warmup steps.

    Returns:
        A serializable `keras.optimizers.schedules.LearningRateSchedule`.

    Raises:
        ValueError: for an unknown name or negative step counts.
    """
    if total_steps < 1 or warmup_steps < 0:
        raise ValueError(
            "Expected `total_steps >= 1` and `warmup_steps >= 0`. Received: "
            f"total_steps={total_steps}, warmup_steps={warmup_steps}"
        )
    if step_boundaries is None:
        span = max(total_steps - warmup_steps, 1)
        step_boundaries = [int(warmup_steps + f * span) for f in STEP_FRACTIONS]
    return WarmupSchedule(name, base_lr, total_steps, warmup_steps, step_boundaries)


def make_optimizer(name, schedule, weight_decay, momentum):
    """Builds the optimizer named by `--optimizer`.

    - `sgd`: `keras.optimizers.SGD` with Nesterov momentum `momentum`;
    - `adamw`: `keras.optimizers.AdamW` (`momentum` is unused).

    Both use decoupled weight decay `weight_decay` (Keras applies
    `w -= lr * weight_decay * w`), not applied to biases and normalisation
    parameters (`NO_DECAY_NAMES`). Build it inside `strategy.scope()`.

    Args:
        name: `"sgd"` or `"adamw"`.
        schedule: a learning-rate schedule or a float.
        weight_decay: decoupled weight decay factor, >= 0.
        momentum: SGD momentum in [0, 1).

    Raises:
        ValueError: for an unknown name.
    """
    weight_decay = float(weight_decay) or None
    if name == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate=schedule,
            momentum=float(momentum),
            nesterov=True,
            weight_decay=weight_decay,
        )
    elif name == "adamw":
        optimizer = keras.optimizers.AdamW(
            learning_rate=schedule, weight_decay=weight_decay or 0.0
        )
    else:
        raise ValueError(
            f"Unknown optimizer. Expected one of {list(OPTIMIZERS)}. "
            f"Received: optimizer={name!r}"
        )
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer


def compile_model(model, args, steps_per_epoch, loss, metrics=None):
    """Compiles `model` with the schedule and optimizer of the options.

    The schedule (`--schedule`, `--learning-rate`, `--warmup-epochs`, the
    warmup capped one step short of the end) spans `--epochs` epochs of
    `steps_per_epoch` steps; the optimizer is `--optimizer` with
    `--weight-decay` and `--momentum`; XLA follows `--jit-compile`. Call it
    inside `strategy.scope()`.
    """
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = min(
        int(round(args.warmup_epochs * steps_per_epoch)), total_steps - 1
    )
    schedule = make_schedule(
        args.schedule, args.learning_rate, total_steps, warmup_steps
    )
    optimizer = make_optimizer(
        args.optimizer, schedule, args.weight_decay, args.momentum
    )
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=metrics,
        jit_compile=jit_compile_value(args.jit_compile),
    )
    return model
