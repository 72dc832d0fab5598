"""Model-free data augmentation: answer-preserving MRC context perturbation, SQuAD 2.0-style
unanswerable questions, and label-preserving Korean text noise for classification."""
