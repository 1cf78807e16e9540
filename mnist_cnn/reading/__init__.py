"""Reading drawings: preprocessing, segmenting numbers, the not-a-digit gate, verdicts."""
