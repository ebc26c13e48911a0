"""The population trainer: n members trained at once, each exactly as if it were trained alone.

Every member has its own initialisation seed, data stream, task, weight decay and AdamW
state; they share only the learning-rate schedule and the tensor operations. Parameters are
kept as one flat (n, p) tensor per population (p = parameters per member, in the canonical
state-dict order), so the optimizer is a handful of whole-population ops per step, and the
functional forward of :mod:`rnn_zoo.member.functional` sees (n, ...) views of it.

The trainer knows nothing about a particular task: a :class:`TaskFamily` supplies the
batches, the loss and the snapshot evaluation, so sequential MNIST plugs in beside formal
languages. It does no logging either; callers pass callbacks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rnn_zoo.build.cuda_graphs import WARM_UP_STEPS, capturable, replayable, warm_up_stream
from rnn_zoo.events import Event, ignore
from rnn_zoo.member import functional
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks.family import Run, TaskFamily


@dataclass(frozen=True)
class TrainConfig:
    """Batch size, snapshot steps, the shared learning-rate schedule and AdamW's constants.

    ``learning_rate`` is a piecewise-linear schedule given by (step, rate) points, constant
    outside them. Training runs steps 0 .. max(snapshot_steps); a snapshot is taken after
    the update of its step.
    """

    batch_size: int
    snapshot_steps: tuple[int, ...]
    learning_rate: tuple[tuple[int, float], ...]
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    graphs: bool = True  # on a GPU, replay the step as a CUDA graph (False: every step eager)

    @property
    def steps(self) -> int:
        """Number of updates per run."""
        return max(self.snapshot_steps) + 1

    def lr(self, step: int) -> float:
        """The learning rate of ``step``."""
        points = self.learning_rate
        if step <= points[0][0]:
            return float(points[0][1])
        for (start, low), (stop, high) in zip(points, points[1:], strict=False):
            if step <= stop:
                return float(low + (high - low) * (step - start) / (stop - start))
        return float(points[-1][1])


def unflatten(flat: Tensor, spec: MemberSpec) -> dict[str, Tensor]:
    """(n, p) flat parameters -> canonical (n, *shape) views, without copying."""
    params, offset = {}, 0
    for name, shape in spec.parameter_shapes().items():
        size = math.prod(shape)
        params[name] = flat[:, offset : offset + size].view(flat.shape[0], *shape)
        offset += size
    return params


def init_members(spec: MemberSpec, seeds: Sequence[int]) -> Tensor:
    """(n, p) initial parameters: each member uniform in ±1/sqrt(hidden), from its own generator.

    That is nn.LSTM's, nn.GRU's, nn.RNN's and nn.Linear's initialisation (all bounds are
    1/sqrt(hidden) here),
    drawn on the CPU so a seed gives the same member on every device.
    """
    bound = 1.0 / math.sqrt(spec.hidden_size)
    members = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(int(seed))
        members.append((torch.rand(spec.num_parameters, generator=generator) * 2 - 1) * bound)
    return torch.stack(members)


@dataclass
class Population:
    """Flat parameters and AdamW moments of n members, plus each member's weight decay.

    ``updates`` counts the updates done, as a 0-dim int64 tensor beside the parameters: the
    update reads and advances it on the device, so a replayed CUDA graph of it stays right.
    """

    params: Tensor  # (n, p)
    exp_avg: Tensor  # (n, p)
    exp_avg_sq: Tensor  # (n, p)
    weight_decay: Tensor  # (n, 1) float64
    updates: Tensor  # () int64

    @classmethod
    def create(cls, spec: MemberSpec, runs: Sequence[Run], device: torch.device) -> Population:
        params = init_members(spec, [run.seed for run in runs]).to(device)
        decay = torch.tensor([[run.weight_decay] for run in runs], dtype=torch.float64, device=device)
        updates = torch.zeros((), dtype=torch.int64, device=device)
        return cls(params, torch.zeros_like(params), torch.zeros_like(params), decay, updates)

    def adamw_step(self, grad: Tensor, lr: Tensor, betas: tuple[float, float], eps: float) -> None:
        """One AdamW update of every member, the same math as torch.optim.AdamW.

        ``lr`` is a 0-dim float64 tensor; like the update count it stays on the device.
        """
        beta1, beta2 = betas
        self.updates.add_(1)
        count = self.updates.double()
        self.params.mul_((1.0 - lr * self.weight_decay).to(self.params.dtype))
        self.exp_avg.lerp_(grad, 1.0 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        step_size = (lr / (1.0 - beta1**count)).to(self.params.dtype)
        denom = (self.exp_avg_sq.sqrt() / (1.0 - beta2**count).sqrt().to(self.params.dtype)).add_(eps)
        self.params.addcdiv_(self.exp_avg * step_size, denom, value=-1.0)


class TrainStep:
    """One training step of a population, made of tensor operations only.

    Everything that changes from step to step lives in tensors on the device (the step
    counter, the learning rate picked from the schedule by it, the update count), and the
    step neither reads a value back to the host nor keeps Python-side state. So the very
    same step runs eagerly or, on a GPU, as a replayed CUDA graph (:func:`replayable`),
    with the same numbers either way.
    """

    def __init__(self, family: TaskFamily, runs: Sequence[Run], config: TrainConfig, device: torch.device):
        self.family, self.config = family, config
        self.population = Population.create(family.spec, runs, device)
        self.seeds = torch.tensor([run.seed for run in runs], dtype=torch.int64, device=device)
        self.tasks = family.task_tensor(runs, device)
        self.rates = torch.tensor(
            [config.lr(s) for s in range(config.steps)], dtype=torch.float64, device=device
        )
        self.step = torch.zeros((), dtype=torch.int64, device=device)  # the step the next call runs
        self.loss_sum = torch.zeros(len(runs), device=device)  # (n,) since the last reset

    def __call__(self) -> None:
        spec = self.family.spec
        inputs, targets = self.family.batch(self.tasks, self.seeds, self.step, self.config.batch_size)
        leaf = self.population.params.detach().requires_grad_()
        params = unflatten(leaf, spec)
        outputs, _ = functional.forward(params, spec, inputs)
        losses = self.family.loss(outputs, targets)  # (n,)
        # Gradients of the (n, *shape) views, concatenated: asking for the flat leaf's gradient
        # instead makes autograd build and sum a full-size (n, p) zero tensor per parameter.
        grads = torch.autograd.grad(losses.sum(), list(params.values()))
        grad = torch.cat([g.reshape(leaf.shape[0], -1) for g in grads], dim=1)  # (n, p)
        lr = self.rates.index_select(0, self.step.view(1))[0]  # gathered on the device, never read back
        self.population.adamw_step(grad, lr, self.config.betas, self.config.eps)
        self.loss_sum.add_(losses.detach())
        self.step.add_(1)


SnapshotCallback = Callable[[int, dict[str, Tensor], Tensor], None]


def train_population(
    family: TaskFamily,
    runs: Sequence[Run],
    config: TrainConfig,
    *,
    device: torch.device,
    on_snapshot: SnapshotCallback,
    event: Event = ignore,
) -> dict[str, Tensor]:
    """Train ``runs`` as one population; return the final parameters as (n, *shape) tensors.

    ``on_snapshot(step, params, train_loss)`` is called after the update of each snapshot
    step, with ``train_loss`` (n,) the members' mean loss since the previous snapshot; the
    event ``step`` {step} follows every step (see rnn_zoo.events). On a
    GPU the steps after the first few replay a CUDA graph of the step (``config.graphs`` False:
    no graph; the numbers are the same); the event ``capture`` {captured, reason} says whether
    the graph was captured (see :func:`rnn_zoo.build.cuda_graphs.replayable`).
    """
    train_step = TrainStep(family, runs, config, device)
    run_step: Callable[[], None] = train_step
    snapshots, since_snapshot = set(config.snapshot_steps), 0
    for step in range(config.steps):
        if step == WARM_UP_STEPS and config.graphs and capturable(device):
            run_step = replayable(train_step, device, event)
        with warm_up_stream(device, active=step < WARM_UP_STEPS and config.graphs):
            run_step()
        since_snapshot += 1
        if step in snapshots:
            with torch.no_grad():
                params = unflatten(train_step.population.params, family.spec)
                on_snapshot(step, params, train_step.loss_sum / since_snapshot)
            train_step.loss_sum.zero_()
            since_snapshot = 0
        event("step", {"step": step})
    return unflatten(train_step.population.params, family.spec)
