"""The feedback loop: ratings → training data and evaluation sets; eval sets → replays."""
