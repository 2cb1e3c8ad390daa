"""The prompts every benchmark asks: long answers, distinct from the first words."""

QUESTIONS = [
    "Write a detailed story about a lighthouse keeper and a storm.",
    "Explain how bread is made, step by step, in detail.",
    "Describe a journey across the mountains in winter.",
    "Tell me everything you know about the history of tea.",
    "Write a long letter from a sailor to his family.",
    "Describe a busy market in a big city at dawn.",
    "Explain how a bicycle works, part by part.",
    "Tell a long fairy tale about a clever fox.",
]
