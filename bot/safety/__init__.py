"""Safety: crisis detection, moderation and sensitive topics, before and after the model.

Contract: pure decisions over text, run by the pipeline on the user's message (before
the prompt is built) and on the growing answer. `crisis` detects a person in crisis and
gives the caring opening and the crisis lines (data, a setting); `moderation` flags a
message or an answer by category; `topics` holds the keyword data that ads and safety
share. Surfaces only render what the pipeline decided.
"""
