"""Label checks for classification data: out-of-fold probabilities and label issues."""

from curate.labels.issues import LabelIssueSettings, find_label_issues, out_of_fold_probabilities, ranked_issues

__all__ = ["LabelIssueSettings", "find_label_issues", "out_of_fold_probabilities", "ranked_issues"]
