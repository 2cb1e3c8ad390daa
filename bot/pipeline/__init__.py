"""The pipeline: one inbound message in, one stored, streamed reply out.

Contract: a surface hands `Assistant.handle` an `Inbound` (platform, user, conversation
key, text) and renders the `Reply` it gets back; everything between (admission by tier
and quota, the user's turn stored before generation, safety gates, the prompt planned
within the tier's budget, the engine's stream, the answer stored with its status, a
sponsored offer only after that) happens here and nowhere else. Nothing in this package
imports discord or WhatsApp; prompts live in `prompts.py` alone.
"""
