"""What the runs say, computed once and read back: every test-set figure (analysis), stored next to the models
(results, columns), a run's record as tables (records), and the answers to the three questions (evidence, answers)."""
