"""Money: tiers, quotas, where the bot may answer, sponsors and advertisers.

Contract: tiers and charges are decided by code and data, never by the model. `tiers`
resolves a user's tier (admin grant > entitlement > role > guild > free) and counts
quota; `ads` chooses an eligible sponsored block after the answer is stored and charges
it atomically, only once delivered, never over budget and never to premium users;
`advertisers` owns advertiser accounts; `access` says where a server lets the bot
answer. SQL lives in `bot.store`, never here.
"""
