"""A separate bot process for tests/test_multiprocess.py, on a shared PostgreSQL.

`python -m tests.support.multiprocess_worker deliver URL CAMPAIGN COUNT PREFIX` chooses COUNT
sponsored replies for COUNT new users, prints "ready", waits for a line on stdin (so
two processes start together), delivers them all at once, and prints how many were
charged as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

from bot.config import load_settings
from bot.money.ads import AdContext, Ads
from bot.money.tiers import Tiers
from bot.store import Store


async def deliver(url: str, campaign_id: int, count: int, prefix: str) -> dict[str, int]:
    """Choose then deliver `count` offers of the campaign concurrently."""
    store = await Store.connect(url, pool_size=count)
    try:
        settings = load_settings(ads_pacing_slack=1.0)
        ads = Ads(settings, store)
        free = Tiers(settings, store).get("free")
        offers = []
        for n in range(count):
            user = await store.ensure_user("local", f"{prefix}{n}")
            offer = await ads.choose(AdContext("local", user, free, "How do I cook pasta?",
                                               "Boil water, add pasta."))
            if offer is None or offer.campaign.id != campaign_id:
                raise SystemExit(f"no offer of campaign {campaign_id} for user {n}")
            offers.append(offer)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        charged = await asyncio.gather(*(ads.delivered(offer) for offer in offers))
        return {"offered": len(offers), "charged": sum(c is not None for c in charged)}
    finally:
        await store.close()


if __name__ == "__main__":
    _, verb, url, campaign, count, prefix = sys.argv
    assert verb == "deliver"
    print(json.dumps(asyncio.run(deliver(url, int(campaign), int(count), prefix))), flush=True)
