"""Labs: one learner's attempt at a scenario, and how its status is computed."""
