"""model.py: architectures are rebuilt from their recorded name, and predictions are flip-averaged probabilities."""

from __future__ import annotations

import model as model_definition
import pytest
import torch


@pytest.mark.parametrize(
    "name", [model_definition.DEFAULT_ARCHITECTURE, "courier-cnn-w16", "courier-cnn-w8", "courier-resnet-w12"]
)
def test_architectures_map_32x32_images_to_class_scores(name: str) -> None:
    torch.manual_seed(0)
    network = model_definition.build_model(name, num_classes=2)
    assert network(torch.randn(5, 3, 32, 32)).shape == (5, 2)


@pytest.mark.parametrize("name", ["resnet18", "courier-cnn", "courier-cnn-w", "courier-cnn-x16", "courier-vgg-w8"])
def test_unknown_architecture_is_refused_by_name(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        model_definition.build_model(name, num_classes=2)


def test_predict_proba_is_a_mirror_invariant_distribution_and_keeps_train_mode() -> None:
    torch.manual_seed(0)
    network = model_definition.build_model(model_definition.DEFAULT_ARCHITECTURE, num_classes=3)
    images = torch.randn(4, 3, 32, 32)
    probabilities = model_definition.predict_proba(network, images, batch_size=3)
    assert probabilities.shape == (4, 3)
    assert torch.allclose(probabilities.sum(1), torch.ones(4), atol=1e-6)
    mirrored = model_definition.predict_proba(network, images.flip(3))
    assert torch.allclose(probabilities, mirrored, atol=1e-6)
    assert network.training, "predict_proba must hand the network back in the mode it found it"


def test_an_ensemble_answers_the_mean_of_its_members_probabilities() -> None:
    torch.manual_seed(0)
    ensemble = model_definition.build_model(model_definition.DEFAULT_ARCHITECTURE, num_classes=2, members=3)
    assert isinstance(ensemble, model_definition.Ensemble)
    images = torch.randn(5, 3, 32, 32)
    together = model_definition.predict_proba(ensemble, images)
    one_by_one = torch.stack([model_definition.predict_proba(member, images) for member in ensemble.members])
    assert torch.allclose(together, one_by_one.mean(dim=0), atol=1e-5)
    assert torch.allclose(together.sum(1), torch.ones(5), atol=1e-5)


def test_an_ensembles_state_dict_loads_into_the_model_its_config_names() -> None:
    torch.manual_seed(0)
    saved = model_definition.build_model("courier-resnet-w8", num_classes=2, members=2)
    rebuilt = model_definition.build_model("courier-resnet-w8", num_classes=2, members=2)
    rebuilt.load_state_dict(saved.state_dict())
    images = torch.randn(2, 3, 32, 32)
    assert torch.equal(model_definition.predict_proba(saved, images), model_definition.predict_proba(rebuilt, images))
    with pytest.raises(RuntimeError):  # a single network does not take an ensemble's weights
        model_definition.build_model("courier-resnet-w8", num_classes=2).load_state_dict(saved.state_dict())
    with pytest.raises(ValueError, match="at least one member"):
        model_definition.build_model("courier-resnet-w8", num_classes=2, members=0)
