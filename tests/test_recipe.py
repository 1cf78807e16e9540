"""The training recipes: today's default for the improved network and the 12-epoch one it replaced."""

from mnist_cnn.training.architectures import ARCHITECTURES, FIRST_CONV, build_model, get_arch


def test_previous_recipe_is_callable_by_name_but_not_offered_in_the_app():
    old = get_arch("improved-12ep")
    assert (old.epochs, old.batch_size, old.peak_lr) == (12, 128, 3e-3)  # what trained models/improved.keras
    assert "improved-12ep" not in ARCHITECTURES  # the sidebar offers ARCHITECTURES


def test_both_recipes_train_the_same_network():
    new, old = (build_model(name, steps_per_epoch=10, epochs=2) for name in ("improved", "improved-12ep"))
    assert new.count_params() == old.count_params() == 162_378
    assert new.get_layer(FIRST_CONV).filters == 32 and new.get_layer("relu1") is not None

