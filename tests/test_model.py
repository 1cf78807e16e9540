import pytest

from mnist_cnn.training.architectures import ARCHITECTURES, FIRST_CONV, build_model, get_arch


def test_seed_model_is_the_tutorials():
    model = build_model("seed")
    assert model.count_params() == 63_050
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "Activation", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Activation"]
    conv = model.get_layer(FIRST_CONV)
    assert conv.filters == 32 and conv.kernel_size == (3, 3) and conv.padding == "same"
    assert model.layers[1].get_config()["activation"] == "relu"
    assert model.layers[3].rate == 0.25
    assert model.layers[-1].get_config()["activation"] == "softmax"
    assert type(model.optimizer).__name__ == "RMSprop"
    assert model.loss == "categorical_crossentropy"


def test_registry_names_and_shared_first_layer():
    assert set(ARCHITECTURES) == {"seed", "improved"}
    for name in ARCHITECTURES:
        model = build_model(name)
        conv = model.get_layer(FIRST_CONV)
        assert conv.filters == 32 and conv.kernel_size == (3, 3)
        assert model.output_shape == (None, 10)
        assert model.get_layer("relu1") is not None


def test_improved_is_the_documented_network():
    model = build_model("improved")
    assert model.count_params() == 162_378  # the README's table
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 4 and kinds.count("BatchNormalization") == 3
    assert {"Dropout", "MaxPooling2D"} <= set(kinds)
    assert type(model.optimizer).__name__ == "Adam"


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of: seed, improved"):
        get_arch("resnet")


def test_short_runs_let_batch_norm_forget_its_starting_statistics():
    from mnist_cnn.training.architectures import BN_START_WEIGHT, batch_norm_momentum

    assert batch_norm_momentum(2_345) == 0.99  # a default run (60,000 images × 5 epochs) keeps Keras' default
    for steps in (20, 235, 500):
        momentum = batch_norm_momentum(steps)
        assert momentum < 0.99 and momentum ** steps <= BN_START_WEIGHT * 1.0001
    model = build_model("improved", steps_per_epoch=47, epochs=5)  # 6,000 images
    assert {layer.momentum for layer in model.layers if type(layer).__name__ == "BatchNormalization"} == {
        batch_norm_momentum(235)}
