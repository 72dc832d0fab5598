"""Text quality: rule statistics (:mod:`curate.quality.heuristics`, behind the Gopher, C4, FineWeb
and Korean quality stages in :mod:`curate.stages.quality`) and a trained quality classifier
(:mod:`curate.quality.classifier`)."""
