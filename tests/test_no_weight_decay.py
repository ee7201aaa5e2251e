"""Recipe `no_weight_decay`: BatchNorm parameters (and biases) exempt from weight decay (ProxylessNAS)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from train_final.recipe import Recipe, RecipeError, make_recipe
from train_final.schedules import build_optimizer


def net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4, 2))


@pytest.mark.parametrize("exempt, no_decay", [
    ("none", []), ("bn", ["1.weight", "1.bias"]), ("bn+bias", ["1.weight", "1.bias", "4.bias"]),
])
def test_exempt_parameters_get_no_weight_decay(exempt, no_decay):
    model = net()
    opt = build_optimizer(model, Recipe(weight_decay=0.1, no_weight_decay=exempt))
    names = {id(p): n for n, p in model.named_parameters()}
    decay = {names[id(p)]: g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert sorted(decay) == sorted(names.values())  # every parameter once
    assert sorted(n for n, wd in decay.items() if wd == 0.0) == sorted(no_decay)
    assert all(wd == 0.1 for n, wd in decay.items() if n not in no_decay)


def test_exempt_parameters_are_not_shrunk_by_a_step():
    model = net()
    with torch.no_grad():
        model[1].weight.fill_(2.0)
    opt = build_optimizer(model, Recipe(lr=0.5, momentum=0.0, weight_decay=0.1, no_weight_decay="bn"))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    conv_before = model[0].weight.detach().clone()
    opt.step()
    assert torch.equal(model[1].weight, torch.full((4,), 2.0))  # no decay, zero gradient: unchanged
    assert torch.allclose(model[0].weight, conv_before * (1 - 0.5 * 0.1))  # decayed


def test_unknown_value_is_one_line():
    with pytest.raises(RecipeError, match="no_weight_decay must be one of none, bn, bn\\+bias"):
        make_recipe({"no_weight_decay": "all"})
