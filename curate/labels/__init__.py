"""Label checks for classification data: out-of-fold probabilities and label issues."""

from curate.labels.issues import find_label_issues, out_of_fold_probabilities, ranked_issues

__all__ = ["find_label_issues", "out_of_fold_probabilities", "ranked_issues"]
