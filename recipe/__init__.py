"""What the recipe's entry points share: the experiment YAML schema (config.py), the experiment dir
(experiment.py), evaluation and reports of an experiment (evaluate.py, training_report.py,
faithfulness_report.py), plots (plotting.py) and embedding audio files with an experiment (audio_features.py).
Library code: it never parses arguments; steps/ holds the entry points."""
