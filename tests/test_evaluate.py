import numpy as np

from mnist_cnn.training.evaluate import mistakes_table, report_from_probabilities


def test_report_counts_mistakes_confusion_and_classes():
    labels = np.array([0, 1, 2, 3, 3])
    probs = np.full((5, 10), 0.01)
    probs[0, 0] = probs[1, 1] = probs[2, 2] = 0.91  # right
    probs[3, 5] = 0.6  # 3 read as 5, fairly sure
    probs[4, 8] = 0.9  # 3 read as 8, very sure
    r = report_from_probabilities(probs, labels)
    assert r.accuracy == 0.6 and r.total == 5
    assert r.mistakes.tolist() == [3, 4]
    assert r.confusion[3, 5] == 1 and r.confusion[3, 8] == 1 and r.confusion.sum() == 5
    assert r.per_class_accuracy[3] == 0.0 and r.per_class_accuracy[0] == 1.0
    assert np.isclose(r.loss, -np.mean(np.log([0.91, 0.91, 0.91, 0.01, 0.01])))
    assert mistakes_table(r).tolist() == [4, 3]  # most confident first
    assert mistakes_table(r, most_confident_first=False).tolist() == [3, 4]
    assert mistakes_table(r, predicted_digit=5).tolist() == [3]
    assert mistakes_table(r, true_digit=1).tolist() == []
