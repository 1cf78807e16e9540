from mnist_cnn import store
from mnist_cnn.jobs import CANCELLED, FAILED, FINISHED, TrainingJobs, estimate_seconds


def test_finished_run_becomes_the_current_model():
    before = store.current_model_path()
    jobs = TrainingJobs()
    assert jobs.start("seed", epochs=1, batch_size=100, limit=1500)
    assert not jobs.start("seed", epochs=1, batch_size=100, limit=1500)  # only one at a time
    state = jobs.wait(300)
    assert state.status == FINISHED, state.message
    assert store.current_model_path() != before == store.shipped_model_path()
    assert store.current_model_path() == store.user_model_path("seed")
    assert state.epochs_done and state.latest.epoch == 1
    assert store.read_meta(store.user_model_path("seed"))["train_images"] == 1500


def test_cancelled_run_changes_nothing():
    jobs = TrainingJobs()
    jobs.start("seed", epochs=10, batch_size=100, limit=30000)
    jobs.cancel()
    state = jobs.wait(300)
    assert state.status == CANCELLED
    assert store.current_model_path() == store.shipped_model_path()
    assert not store.user_model_path("seed").exists()


def test_failed_run_is_reported_and_changes_nothing():
    def broken_trainer(*args, **kwargs):
        raise RuntimeError("out of memory")

    jobs = TrainingJobs(trainer=broken_trainer)
    jobs.start("seed", epochs=1, batch_size=100)
    state = jobs.wait(60)
    assert state.status == FAILED and "out of memory" in state.message
    assert store.current_model_path() == store.shipped_model_path()


def test_estimate_uses_the_shipped_models_training_time():
    meta = store.read_meta(store.shipped_model_path("seed"))
    assert estimate_seconds("seed", meta["epochs"], meta["train_images"]) == meta["train_seconds"]
    assert estimate_seconds("improved", 24, 60000) > estimate_seconds("improved", 12, 60000)
