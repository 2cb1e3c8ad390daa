"""Every user-facing string (not the model's answers), in English and French.

Surfaces pick a locale (Discord: the interaction's or the guild's; elsewhere English)
and call `t(key, locale, **values)`. Command names and descriptions are translated for
Discord through `COMMAND_FR`, which `cogs`' translator reads.
"""

from __future__ import annotations

SUPPORTED = ("en", "fr")

STRINGS: dict[str, dict[str, str]] = {
    "empty": {
        "en": "Your message is empty: send me some text and I'll answer.",
        "fr": "Votre message est vide : écrivez-moi quelque chose et je répondrai.",
    },
    "too_long": {
        "en": "Your message is too long ({size:,} characters; the limit is {limit:,}). "
              "Please send a shorter one.",
        "fr": "Votre message est trop long ({size:,} caractères ; la limite est de "
              "{limit:,}). Envoyez-en un plus court, s'il vous plaît.",
    },
    "cut": {
        "en": "Your message was too long for me to read whole: I read the first "
              "{kept:,} of its {size:,} characters.",
        "fr": "Votre message était trop long pour être lu en entier : j'en ai lu les "
              "{kept:,} premiers caractères sur {size:,}.",
    },
    "busy": {
        "en": "I'm busy right now ({waiting} requests waiting); please try again in a minute.",
        "fr": "Je suis occupé ({waiting} demandes en attente) ; réessayez dans une minute.",
    },
    "engine_down": {
        "en": "The model is not available right now; please try again shortly.",
        "fr": "Le modèle n'est pas disponible pour le moment ; réessayez bientôt.",
    },
    "failed": {
        "en": "Sorry, something went wrong while answering. Please try again.",
        "fr": "Désolé, un problème est survenu pendant la réponse. Réessayez.",
    },
    "queued": {
        "en": "⏳ In queue, #{position}…",
        "fr": "⏳ En file d'attente, n°{position}…",
    },
    "stopped": {"en": "*(stopped)*", "fr": "*(interrompu)*"},
    "crisis_opening": {
        "en": ("I'm really sorry you're going through this. You don't have to face it "
               "alone: people at these lines are ready to listen, right now, for free:"),
        "fr": ("Je suis vraiment désolé que tu traverses ça. Tu n'as pas à y faire face "
               "seul·e : des personnes sont prêtes à t'écouter, maintenant, gratuitement :"),
    },
    "moderation_refused": {
        "en": "I can't help with that: this message falls under {categories}, which is "
              "not allowed here.",
        "fr": "Je ne peux pas aider avec ça : ce message relève de {categories}, qui n'est "
              "pas autorisé ici.",
    },
    "moderation_unavailable": {
        "en": "I can't check messages for safety right now, so I can't answer; please try "
              "again in a few minutes.",
        "fr": "Je ne peux pas vérifier les messages pour le moment, donc je ne peux pas "
              "répondre ; réessayez dans quelques minutes.",
    },
    "moderation_floor": {
        "en": "{category} is always refused: the operator set it for every server.",
        "fr": "{category} est toujours refusé : l'opérateur l'a fixé pour tous les serveurs.",
    },
    "moderation_saved": {
        "en": "Saved. Refused in this server: {refused}.",
        "fr": "Enregistré. Refusé sur ce serveur : {refused}.",
    },
    "moderated": {
        "en": "*(answer withheld: it fell under {categories})*",
        "fr": "*(réponse retirée : elle relevait de {categories})*",
    },
    "empty_answer": {
        "en": "The model gave an empty answer; please rephrase or try again.",
        "fr": "Le modèle a donné une réponse vide ; reformulez ou réessayez.",
    },
    "text_only": {
        "en": "I can only read text: {names} skipped.",
        "fr": "Je ne sais lire que du texte : {names} ignoré(s).",
    },
    "attachment_too_big": {
        "en": "{name} is too big for me to read (limit {limit:,} bytes).",
        "fr": "{name} est trop volumineux pour moi (limite {limit:,} octets).",
    },
    "reset_done": {
        "en": "Started a new conversation. The old one stays stored until you delete "
              "your data.",
        "fr": "Nouvelle conversation commencée. L'ancienne reste enregistrée jusqu'à "
              "ce que vous supprimiez vos données.",
    },
    "history_empty": {
        "en": "No turns yet in this conversation.",
        "fr": "Pas encore d'échanges dans cette conversation.",
    },
    "history_title": {
        "en": "Your last turns here:",
        "fr": "Vos derniers échanges ici :",
    },
    "cancel_done": {
        "en": "Stopped {count} answer(s) in progress.",
        "fr": "{count} réponse(s) en cours arrêtée(s).",
    },
    "cancel_none": {
        "en": "You have no answer in progress.",
        "fr": "Vous n'avez aucune réponse en cours.",
    },
    "model_info": {
        "en": "**Model** {name} ({arch})\n**Context** {n_ctx:,} tokens\n"
              "**Speed** {speed}\n**Queue** {queue} waiting",
        "fr": "**Modèle** {name} ({arch})\n**Contexte** {n_ctx:,} jetons\n"
              "**Vitesse** {speed}\n**File** {queue} en attente",
    },
    "speed_unknown": {"en": "not measured yet", "fr": "pas encore mesurée"},
    "speed": {"en": "{tps:.0f} tokens/s", "fr": "{tps:.0f} jetons/s"},
    "help": {
        "en": "**Causette** answers when you mention it, reply to it, or DM it.\n"
              "`/ask` ask in this channel · `/reset` new conversation · "
              "`/history` your last turns · `/cancel` stop your answer · "
              "`/model` what runs me · `/help` this help\n"
              "Admins: `/config` chooses where I answer and sets a prompt per channel.",
        "fr": "**Causette** répond quand vous la mentionnez, lui répondez ou lui écrivez "
              "en privé.\n`/ask` poser une question ici · `/reset` nouvelle conversation · "
              "`/history` vos derniers échanges · `/cancel` arrêter votre réponse · "
              "`/model` mon modèle · `/help` cette aide\n"
              "Admins : `/config` choisit où je réponds et fixe un prompt par salon.",
    },
    "error": {
        "en": "Sorry, that did not work: {error}",
        "fr": "Désolé, cela n'a pas marché : {error}",
    },
    "no_permission": {
        "en": "You need the Manage Server permission for this.",
        "fr": "Il vous faut la permission Gérer le serveur pour cela.",
    },
    "config_saved": {"en": "Saved: {what}.", "fr": "Enregistré : {what}."},
    "config_show": {
        "en": "**Where I answer in this server**\n{rules}\n**Channel prompts**\n{prompts}\n"
              "**DMs** {dms}",
        "fr": "**Où je réponds sur ce serveur**\n{rules}\n**Prompts par salon**\n{prompts}\n"
              "**Messages privés** {dms}",
    },
    "config_none": {"en": "everywhere (no rules)", "fr": "partout (aucune règle)"},
    "prompts_none": {"en": "none", "fr": "aucun"},
    "on": {"en": "answered", "fr": "acceptés"},
    "off": {"en": "not answered", "fr": "refusés"},
    "prompt_too_long": {
        "en": "That prompt is too long ({size} characters; the limit is {limit}).",
        "fr": "Ce prompt est trop long ({size} caractères ; la limite est {limit}).",
    },
    "rate_limited": {
        "en": "You're sending messages very fast. Please wait {seconds} s and try again.",
        "fr": "Vous envoyez des messages très vite. Attendez {seconds} s et réessayez.",
    },
    "quota_reached": {
        "en": "You've used today's {limit} messages on the {tier} tier. Quotas reset at "
              "{reset} (in about {hours} h). {upgrade}",
        "fr": "Vous avez utilisé vos {limit} messages du jour (offre {tier}). Les quotas "
              "repartent à {reset} (dans {hours} h environ). {upgrade}",
    },
    "upgrade_hint": {
        "en": "The {tier} tier gives {limit} a day: see /premium.",
        "fr": "L'offre {tier} en donne {limit} par jour : voir /premium.",
    },
    "upgrade_none": {
        "en": "You are on the highest tier already.",
        "fr": "Vous avez déjà l'offre la plus haute.",
    },
    "gate": {
        "en": "/{command} {what} It is a premium command: it comes with the {tier} tier "
              "and above. See /premium for how to get it.",
        "fr": "/{command} {what} C'est une commande premium : elle vient avec l'offre "
              "{tier} et au-delà. Voir /premium pour l'obtenir.",
    },
    "cmd_persona": {
        "en": "gives Causette a custom system prompt for your conversations.",
        "fr": "donne à Causette un prompt système personnalisé pour vos conversations.",
    },
    "cmd_summarize": {
        "en": "summarises the last messages of your conversation or the channel.",
        "fr": "résume les derniers messages de votre conversation ou du salon.",
    },
    "cmd_translate": {
        "en": "translates a text into the language you choose.",
        "fr": "traduit un texte dans la langue de votre choix.",
    },
    "persona_set": {
        "en": "Persona saved: it applies to your conversations from your next message.",
        "fr": "Persona enregistré : il s'applique à vos conversations dès votre prochain "
              "message.",
    },
    "persona_cleared": {"en": "Persona cleared.", "fr": "Persona effacé."},
    "persona_none": {"en": "You have no persona set.", "fr": "Vous n'avez pas de persona."},
    "persona_show": {"en": "Your persona: {persona}", "fr": "Votre persona : {persona}"},
    # Memory (bot/pipeline/memory.py, cogs/memory.py) --------------------------------------------
    "memory_saved": {"en": "Saved to memory: {fact}", "fr": "Enregistré en mémoire : {fact}"},
    "memory_temporary": {
        "en": "Nothing is saved while temporary chat is on (/temporary off to save again).",
        "fr": "Rien n'est enregistré pendant le chat temporaire (/temporary off pour "
              "enregistrer à nouveau).",
    },
    "memory_refused": {
        "en": "I can't save that: it falls under {categories}.",
        "fr": "Je ne peux pas enregistrer ça : cela relève de {categories}.",
    },
    "memory_already": {
        "en": "Already in memory: {fact}",
        "fr": "Déjà en mémoire : {fact}",
    },
    "memory_saved_undo": {
        "en": "Saved to memory: {fact} (to undo: /memory forget {number})",
        "fr": "Enregistré en mémoire : {fact} (pour annuler : /memory forget {number})",
    },
    "memory_empty": {
        "en": "There is nothing to remember: give me a fact, e.g. /remember I am vegetarian.",
        "fr": "Il n'y a rien à retenir : donnez-moi un fait, par ex. /remember je suis "
              "végétarien.",
    },
    "memory_too_long": {
        "en": "That fact is too long ({size} characters; the limit is {limit}). Please "
              "say it more briefly.",
        "fr": "Ce fait est trop long ({size} caractères ; la limite est de {limit}). "
              "Dites-le plus brièvement.",
    },
    "memory_control": {
        "en": "I can't save that: a memory is a plain fact about you, and this one "
              "contains chat control codes.",
        "fr": "Je ne peux pas enregistrer ça : un souvenir est un simple fait sur vous, et "
              "celui-ci contient des codes de contrôle.",
    },
    "memory_full": {
        "en": "Your memory is full ({limit} facts). Forget some first: /memory lists them.",
        "fr": "Votre mémoire est pleine ({limit} faits). Oubliez-en d'abord : /memory "
              "les liste.",
    },
    "memory_is_off": {
        "en": "Memory is off, so nothing was saved. /memory on turns it back on.",
        "fr": "La mémoire est désactivée : rien n'a été enregistré. /memory on la réactive.",
    },
    "memory_none": {
        "en": "I have no saved memories about you.",
        "fr": "Je n'ai aucun souvenir enregistré sur vous.",
    },
    "memory_title": {
        "en": "What I remember about you ({count} of {limit}):",
        "fr": "Ce dont je me souviens sur vous ({count} sur {limit}) :",
    },
    "memory_off_note": {
        "en": "Memory is off: nothing is saved or used until /memory on.",
        "fr": "La mémoire est désactivée : rien n'est enregistré ni utilisé jusqu'à "
              "/memory on.",
    },
    "memory_no_such": {
        "en": "There is no memory number {number} (you have {count}).",
        "fr": "Il n'y a pas de souvenir numéro {number} (vous en avez {count}).",
    },
    "memory_forgotten": {"en": "Forgotten.", "fr": "Oublié."},
    "memory_gone": {"en": "That memory is already gone.", "fr": "Ce souvenir n'existe plus."},
    "memory_cleared": {
        "en": "Forgot all {count} of your memories.",
        "fr": "J'ai oublié vos {count} souvenirs.",
    },
    "memory_on": {
        "en": "Memory is on: I save what you ask me to remember and use it in my answers.",
        "fr": "La mémoire est activée : je retiens ce que vous me demandez et m'en sers "
              "dans mes réponses.",
    },
    "memory_off": {
        "en": "Memory is off: nothing is saved or used (your saved facts are kept until "
              "you clear them).",
        "fr": "La mémoire est désactivée : rien n'est enregistré ni utilisé (vos faits "
              "restent jusqu'à ce que vous les effaciez).",
    },
    "memory_usage": {
        "en": "Usage: /memory [list | add FACT | forget N | clear | off | on]; "
              "/remember FACT; /temporary on|off.",
        "fr": "Usage : /memory [list | add FAIT | forget N | clear | off | on] ; "
              "/remember FAIT ; /temporary on|off.",
    },
    "temporary_on": {
        "en": "Temporary chat is on: nothing of our conversation is stored, no memory is "
              "read or saved, and no ads. /temporary off ends it.",
        "fr": "Discussion temporaire activée : rien de notre conversation n'est enregistré, "
              "aucune mémoire n'est lue ni enregistrée, et pas d'annonces. /temporary off "
              "y met fin.",
    },
    "temporary_off": {
        "en": "Temporary chat is off: conversations are stored again.",
        "fr": "Discussion temporaire désactivée : les conversations sont de nouveau "
              "enregistrées.",
    },
    "temporary_notice": {
        "en": "Temporary chat: this conversation is not saved.",
        "fr": "Discussion temporaire : cette conversation n'est pas enregistrée.",
    },
    "temporary_usage": {"en": "Usage: /temporary on|off", "fr": "Usage : /temporary on|off"},
    "typed_help": {
        "en": "Commands:\n"
              "/reset  start a new conversation (the old one stays stored)\n"
              "/premium  your tier, today's usage, and what each tier gives\n"
              "/persona [set TEXT|clear]  a custom system prompt for you (premium)\n"
              "/summarize [N]  summarise the last N turns (premium)\n"
              "/translate LANGUAGE TEXT  translate TEXT into LANGUAGE (premium)\n"
              "/privacy [export|forget]  what is stored; all of it; delete it all\n"
              "/ads personalize on|off  let sponsored replies match your conversation\n"
              "/remember FACT  save a fact about you\n"
              "/memory [list|add FACT|forget N|clear|off|on]  what I remember about you\n"
              "/temporary on|off  temporary chat: nothing stored, no memory, no ads\n"
              "/remind WHEN WHAT  e.g. /remind tomorrow at 9 to call the bank\n"
              "/reminders [cancel N]  your reminders to come; cancel one\n"
              "/timezone [ZONE]  the time zone reminders use, e.g. Europe/Paris\n"
              "/help  this help\n"
              "Anything else is a question for the assistant.",
        "fr": "Commandes :\n"
              "/reset  commencer une nouvelle conversation (l'ancienne reste enregistrée)\n"
              "/premium  votre offre, votre usage du jour et ce que donne chaque offre\n"
              "/persona [set TEXTE|clear]  un prompt système à vous (premium)\n"
              "/summarize [N]  résumer les N derniers échanges (premium)\n"
              "/translate LANGUE TEXTE  traduire TEXTE en LANGUE (premium)\n"
              "/privacy [export|forget]  ce qui est enregistré ; tout ; tout effacer\n"
              "/ads personalize on|off  des réponses sponsorisées selon votre "
              "conversation\n"
              "/remember FAIT  enregistrer un fait sur vous\n"
              "/memory [list|add FAIT|forget N|clear|off|on]  ce dont je me souviens\n"
              "/temporary on|off  discussion temporaire : rien d'enregistré, sans "
              "mémoire, sans annonces\n"
              "/remind QUAND QUOI  ex. /remind demain à 9h appeler la banque\n"
              "/reminders [cancel N]  vos rappels à venir ; en annuler un\n"
              "/timezone [ZONE]  le fuseau horaire des rappels, ex. Europe/Paris\n"
              "/help  cette aide\n"
              "Tout le reste est une question pour l'assistant.",
    },
    "typed_help_terminal": {
        "en": "/knowledge [add FILE|list|remove N]  documents answers here draw on\n"
              "/quit  leave (Ctrl-D works too); Ctrl-C stops an answer in progress.",
        "fr": "/knowledge [add FICHIER|list|remove N]  les documents des réponses ici\n"
              "/quit  quitter (Ctrl-D aussi) ; Ctrl-C arrête une réponse en cours.",
    },
    "unknown_command": {
        "en": "Unknown command {name}; /help lists them.",
        "fr": "Commande inconnue {name} ; /help les liste.",
    },
    "ads_usage": {
        "en": "Usage: /ads personalize on|off (ads match only your current message "
              "unless it is on).",
        "fr": "Usage : /ads personalize on|off (les annonces ne regardent que votre "
              "message, sauf si c'est on).",
    },
    "ads_personalize_on": {
        "en": "Ad personalisation is on.", "fr": "La personnalisation des annonces est activée.",
    },
    "ads_personalize_off": {
        "en": "Ad personalisation is off.",
        "fr": "La personnalisation des annonces est désactivée.",
    },
    "not_kept_temporary": {
        "en": "Your message arrived during a temporary chat and could not be answered; "
              "it was not kept. Please send it again.",
        "fr": "Votre message est arrivé pendant une discussion temporaire et n'a pas pu "
              "recevoir de réponse ; il n'a pas été gardé. Renvoyez-le, s'il vous plaît.",
    },
    "btn_undo": {"en": "Undo", "fr": "Annuler"},
    "btn_forget_n": {"en": "Forget {number}", "fr": "Oublier {number}"},
    "premium_status": {
        "en": "You are on the **{tier}** tier ({source}). Today: {used}/{limit} messages "
              "(resets at 00:00 UTC).",
        "fr": "Vous avez l'offre **{tier}** ({source}). Aujourd'hui : {used}/{limit} messages "
              "(remise à zéro à 00:00 UTC).",
    },
    "premium_until": {"en": "Until {until} UTC.", "fr": "Jusqu'au {until} UTC."},
    "tier_line": {
        "en": "- **{tier}**: {messages} messages/day, {reply}-token answers, {memory} tokens "
              "of memory, {ads}, {extras}",
        "fr": "- **{tier}** : {messages} messages/jour, réponses de {reply} jetons, mémoire de "
              "{memory} jetons, {ads}, {extras}",
    },
    "ads_yes": {"en": "sponsored replies", "fr": "réponses sponsorisées"},
    "ads_no": {"en": "no ads", "fr": "sans publicité"},
    "premium_buy": {
        "en": "Subscribe with the button below (billed by Discord).",
        "fr": "Abonnez-vous avec le bouton ci-dessous (facturé par Discord).",
    },
    "premium_ask_admin": {
        "en": "Premium is granted by this server's admins (/premium grant) or the bot's "
              "operator.",
        "fr": "Le premium est accordé par les admins du serveur (/premium grant) ou "
              "l'opérateur du bot.",
    },
    "unknown_tier": {
        "en": "There is no tier called {tier}; tiers: {tiers}.",
        "fr": "Il n'y a pas d'offre {tier} ; offres : {tiers}.",
    },
    "grant_pick_one": {
        "en": "Pick exactly one: a member or a role.",
        "fr": "Choisissez exactement un membre ou un rôle.",
    },
    "granted": {
        "en": "{who} now has the {tier} tier (until {until}).",
        "fr": "{who} a maintenant l'offre {tier} (jusqu'à {until}).",
    },
    "revoked": {"en": "Revoked {count} grant(s).", "fr": "{count} attribution(s) retirée(s)."},
    "no_grants": {"en": "Nothing yet.", "fr": "Rien pour l'instant."},
    "owner_only": {
        "en": "Only the bot's owner can do this.",
        "fr": "Seul le propriétaire du bot peut faire cela.",
    },
    "why_ad": {
        "en": "Why this ad: {advertiser} paid for it; it matched {words} in {basis}; you "
              "are on the {tier} tier. Ads are never part of the answer. /ads personalize "
              "off stops history matching; /premium removes ads.",
        "fr": "Pourquoi cette annonce : {advertiser} l'a payée ; elle correspond à {words} "
              "dans {basis} ; vous avez l'offre {tier}. Les annonces ne font jamais partie "
              "de la réponse. /ads personalize off arrête l'usage de l'historique ; /premium "
              "supprime les annonces.",
    },
    "why_ad_other": {
        "en": "This ad was shown to another member, for what they wrote: {advertiser} paid "
              "for it. Ads are never part of the answer; /premium removes ads.",
        "fr": "Cette annonce a été montrée à un autre membre, pour ce qu'il a écrit : "
              "{advertiser} l'a payée. Les annonces ne font jamais partie de la réponse ; "
              "/premium supprime les annonces.",
    },
    "why_message": {"en": "your message", "fr": "votre message"},
    "why_memory": {
        "en": "{basis} and your saved memory \"{memory}\"",
        "fr": "{basis} et votre souvenir enregistré « {memory} »",
    },
    "why_personal": {
        "en": "your conversation (you turned personalisation on)",
        "fr": "votre conversation (vous avez activé la personnalisation)",
    },
    "sponsored": {"en": "Sponsored", "fr": "Sponsorisé"},
    "sponsored_footer": {
        "en": "Sponsored · shown on the free tier, never part of the answer",
        "fr": "Sponsorisé · affiché en offre gratuite, jamais dans la réponse",
    },
    "btn_why": {"en": "Why this ad?", "fr": "Pourquoi cette annonce ?"},
    "btn_visit": {"en": "Visit", "fr": "Visiter"},
    "btn_upgrade": {"en": "Remove ads", "fr": "Supprimer les annonces"},
    "ad_gone": {"en": "This ad is no longer available.", "fr": "Cette annonce n'existe plus."},
    "ad_visit": {"en": "Here is the link: {url}", "fr": "Voici le lien : {url}"},
    "ad_upgrade": {
        "en": "Premium tiers have no ads: see /premium status.",
        "fr": "Les offres premium sont sans publicité : voir /premium status.",
    },
    "sponsors_on": {
        "en": "Sponsored replies are on in this server (free tier only, never near "
              "sensitive topics).",
        "fr": "Les réponses sponsorisées sont activées sur ce serveur (offre gratuite "
              "seulement, jamais près de sujets sensibles).",
    },
    "sponsors_off": {
        "en": "Sponsored replies are off in this server.",
        "fr": "Les réponses sponsorisées sont désactivées sur ce serveur.",
    },
    "campaigns_added": {"en": "Added campaign(s) {ids}.", "fr": "Campagne(s) {ids} ajoutée(s)."},
    "campaign_changed": {"en": "Campaign {id} updated.", "fr": "Campagne {id} mise à jour."},
    "campaign_unchanged": {
        "en": "Campaign {id} is not one of this server's, or is not in that state.",
        "fr": "La campagne {id} n'est pas de ce serveur, ou n'est pas dans cet état.",
    },
    "personalize_on": {
        "en": "Ads may now match your recent conversation. /ads personalize off to stop.",
        "fr": "Les annonces peuvent maintenant utiliser votre conversation récente. "
              "/ads personalize off pour arrêter.",
    },
    "personalize_off": {
        "en": "Ads will only match the message you just sent.",
        "fr": "Les annonces n'utiliseront que le message que vous venez d'envoyer.",
    },
    "privacy_explain": {
        "en": "**What Causette stores, and why**\n"
              "- Your messages and its answers, to remember the conversation. {retention}\n"
              "- Your tier, grants and subscriptions, and how many messages you sent today, "
              "to apply limits.\n"
              "- Sponsored replies shown to you and clicks (by an internal id, never your "
              "name), to bill advertisers honestly. Ads match your current message unless "
              "you turn on personalisation.\n"
              "Nothing leaves this machine: the model runs here. `/privacy export` gives "
              "you all of it; `/privacy forget` deletes it (billing records keep only an "
              "anonymous id).",
        "fr": "**Ce que Causette enregistre, et pourquoi**\n"
              "- Vos messages et ses réponses, pour se souvenir de la conversation. "
              "{retention}\n"
              "- Votre offre, vos attributions et abonnements, et le nombre de messages du "
              "jour, pour appliquer les limites.\n"
              "- Les réponses sponsorisées affichées et les clics (sous un identifiant "
              "interne, jamais votre nom), pour facturer honnêtement. Les annonces ne "
              "regardent que votre message, sauf si vous activez la personnalisation.\n"
              "Rien ne quitte cette machine : le modèle tourne ici. `/privacy export` vous "
              "donne tout ; `/privacy forget` efface tout (la facturation ne garde qu'un "
              "identifiant anonyme).",
    },
    "retention_days": {
        "en": "Messages are deleted after {days} days.",
        "fr": "Les messages sont effacés après {days} jours.",
    },
    "retention_forever": {
        "en": "They are kept until you delete them.",
        "fr": "Ils sont gardés jusqu'à ce que vous les effaciez.",
    },
    "forget_confirm": {
        "en": "This deletes all your conversations and data here, for good. Sure?",
        "fr": "Cela efface définitivement toutes vos conversations et données ici. "
              "Confirmer ?",
    },
    "forget_done": {
        "en": "Done: your data is deleted ({messages} messages).",
        "fr": "C'est fait : vos données sont effacées ({messages} messages).",
    },
    "forget_cancelled": {"en": "Nothing was deleted.", "fr": "Rien n'a été effacé."},
    "btn_delete": {"en": "Delete everything", "fr": "Tout effacer"},
    "btn_keep": {"en": "Keep my data", "fr": "Garder mes données"},
    "export_ready": {
        "en": "Here is everything stored about you.",
        "fr": "Voici tout ce qui est enregistré sur vous.",
    },
    "guild_only": {
        "en": "This command only works in a server.",
        "fr": "Cette commande ne fonctionne que sur un serveur.",
    },
    # Knowledge (issue 29): a server's own documents.
    "knowledge_added": {
        "en": "Added {name}: {passages} passages indexed. Questions asked here can now "
              "be answered from it.",
        "fr": "{name} ajouté : {passages} passages indexés. Les questions posées ici "
              "peuvent maintenant s'appuyer dessus.",
    },
    "knowledge_bad_kind": {
        "en": "I can't read {name}: send a text (.txt), Markdown (.md) or PDF (.pdf) file.",
        "fr": "Je ne peux pas lire {name} : envoyez un fichier texte (.txt), Markdown (.md) "
              "ou PDF (.pdf).",
    },
    "knowledge_too_big": {
        "en": "{name} is too large ({size:,} bytes; the limit is {limit:,}).",
        "fr": "{name} est trop volumineux ({size:,} octets ; la limite est de {limit:,}).",
    },
    "knowledge_unreadable": {
        "en": "I couldn't find any text in {name}: is it a scanned PDF or an empty file?",
        "fr": "Je n'ai trouvé aucun texte dans {name} : est-ce un PDF scanné ou un "
              "fichier vide ?",
    },
    "knowledge_full": {
        "en": "This server already has {limit} documents: remove one first "
              "(/knowledge remove).",
        "fr": "Ce serveur a déjà {limit} documents : retirez-en un d'abord "
              "(/knowledge remove).",
    },
    "knowledge_none": {
        "en": "No documents yet. Admins add them with /knowledge add.",
        "fr": "Aucun document pour l'instant. Les admins en ajoutent avec /knowledge add.",
    },
    "knowledge_title": {"en": "Documents I answer from here:",
                        "fr": "Documents sur lesquels je m'appuie ici :"},
    "knowledge_item": {
        "en": "{number}. {name} ({passages} passages, {chars:,} characters)",
        "fr": "{number}. {name} ({passages} passages, {chars:,} caractères)",
    },
    "knowledge_no_such": {
        "en": "There is no document number {number} (there are {count}); see /knowledge list.",
        "fr": "Il n'y a pas de document numéro {number} (il y en a {count}) ; voyez "
              "/knowledge list.",
    },
    "knowledge_removed": {"en": "Removed {name} and its passages.",
                          "fr": "{name} et ses passages ont été retirés."},
    "knowledge_sources": {"en": "Sources: {sources}", "fr": "Sources : {sources}"},
    "knowledge_usage": {
        "en": "Usage: /knowledge add FILE | list | remove N",
        "fr": "Usage : /knowledge add FICHIER | list | remove N",
    },
    "knowledge_no_file": {
        "en": "I can't open {name}: {why}",
        "fr": "Je ne peux pas ouvrir {name} : {why}",
    },
    # Reminders (issue 29).
    "reminder_set": {
        "en": "⏰ I'll remind you on {when}: {task}",
        "fr": "⏰ Je vous le rappellerai le {when} : {task}",
    },
    "reminder_no_time": {
        "en": "I couldn't find when in that: say e.g. \"remind me tomorrow at 9 to call the "
              "bank\" or \"in 2 hours to stretch\".",
        "fr": "Je n'ai pas trouvé quand : dites par ex. « rappelle-moi demain à 9h d'appeler "
              "la banque » ou « dans 2 heures de m'étirer ».",
    },
    "reminder_no_task": {
        "en": "Remind you of what? Add it after the time, e.g. \"tomorrow at 9 to call the "
              "bank\".",
        "fr": "Vous rappeler quoi ? Ajoutez-le après l'heure, par ex. « demain à 9h "
              "d'appeler la banque ».",
    },
    "reminder_past": {
        "en": "{when} has already passed: give a time to come.",
        "fr": "{when} est déjà passé : donnez un moment à venir.",
    },
    "reminder_limit": {
        "en": "You already have {limit} reminders to come, the most your plan allows: "
              "cancel one first (/reminders).",
        "fr": "Vous avez déjà {limit} rappels à venir, le maximum de votre offre : "
              "annulez-en un d'abord (/reminders).",
    },
    "reminder_not_here": {
        "en": "I can't send reminders here yet (on WhatsApp I may only write to you within "
              "24 hours of your last message); set them on Discord or in the terminal.",
        "fr": "Je ne peux pas encore envoyer de rappels ici (sur WhatsApp, je ne peux vous "
              "écrire que dans les 24 heures suivant votre dernier message) ; créez-les "
              "sur Discord ou dans le terminal.",
    },
    "reminders_none": {"en": "No reminders to come.", "fr": "Aucun rappel à venir."},
    "reminders_title": {"en": "Your reminders to come:", "fr": "Vos rappels à venir :"},
    "reminder_no_such": {
        "en": "There is no reminder number {number}; see /reminders.",
        "fr": "Il n'y a pas de rappel numéro {number} ; voyez /reminders.",
    },
    "reminder_cancelled": {"en": "Cancelled: {task}", "fr": "Annulé : {task}"},
    "reminder_due": {"en": "⏰ Reminder: {task}", "fr": "⏰ Rappel : {task}"},
    "reminder_late": {"en": "(late by {late})", "fr": "(en retard de {late})"},
    "timezone_unknown": {
        "en": "I don't know the time zone {name}: use a name like Europe/Paris or "
              "America/New_York.",
        "fr": "Je ne connais pas le fuseau {name} : utilisez un nom comme Europe/Paris ou "
              "America/New_York.",
    },
    "timezone_set": {
        "en": "Your time zone is now {name} (it is {now} there).",
        "fr": "Votre fuseau horaire est maintenant {name} (il y est {now}).",
    },
    "timezone_show": {
        "en": "Your reminders use the time zone {name}; change it with /timezone ZONE.",
        "fr": "Vos rappels utilisent le fuseau {name} ; changez-le avec /timezone FUSEAU.",
    },
}

# Discord command names (lower case, no spaces) and descriptions in French.
COMMAND_FR: dict[str, str] = {
    "ask": "demander",
    "Ask Causette something in this channel": "Poser une question à Causette dans ce salon",
    "prompt": "question",
    "What to ask": "Ce que vous voulez demander",
    "reset": "reinitialiser",
    "Start a new conversation with Causette here":
        "Commencer une nouvelle conversation avec Causette ici",
    "history": "historique",
    "Show your last turns with Causette here (only you see it)":
        "Voir vos derniers échanges avec Causette ici (visible par vous seul)",
    "model": "modele",
    "Show the model, its context, speed and queue":
        "Voir le modèle, son contexte, sa vitesse et la file d'attente",
    "help": "aide",
    "How to use Causette": "Comment utiliser Causette",
    "cancel": "annuler",
    "Stop your answer in progress": "Arrêter votre réponse en cours",
    "config": "config",
    "Choose where Causette answers in this server":
        "Choisir où Causette répond sur ce serveur",
    "show": "voir",
    "Show this server's Causette settings": "Voir les réglages de Causette pour ce serveur",
    "channel": "salon",
    "Allow, block or clear a channel (threads and categories inherit)":
        "Autoriser, bloquer ou effacer un salon (fils et catégories héritent)",
    "role": "role",
    "Allow, block or clear a role": "Autoriser, bloquer ou effacer un rôle",
    "user": "membre",
    "Allow, block or clear a member": "Autoriser, bloquer ou effacer un membre",
    "mode": "mode",
    "allow, block, or clear the rule": "autoriser, bloquer ou effacer la règle",
    "target": "cible",
    "The channel or category": "Le salon ou la catégorie",
    "The role": "Le rôle",
    "The member": "Le membre",
    "channel-prompt": "prompt-salon",
    "Set or clear the system prompt of a channel":
        "Définir ou effacer le prompt système d'un salon",
    "text": "texte",
    "The system prompt; leave empty to clear": "Le prompt système ; vide pour l'effacer",
    "moderation": "moderation",
    "Choose which kinds of message are refused in this server":
        "Choisir quels types de messages sont refusés sur ce serveur",
    "category": "categorie",
    "The kind of message": "Le type de message",
    "refuse it, allow it, or reset every kind to the default":
        "le refuser, l'autoriser, ou tout remettre par défaut",
    "premium": "premium",
    "Your Causette tier, and grants": "Votre offre Causette, et les attributions",
    "status": "statut",
    "Your tier, usage today, and what each tier gives":
        "Votre offre, votre usage du jour et ce que donne chaque offre",
    "grant": "accorder",
    "Give a member or a role a tier in this server":
        "Donner une offre à un membre ou un rôle sur ce serveur",
    "revoke": "retirer",
    "Remove a member's or a role's grant here": "Retirer l'offre d'un membre ou d'un rôle ici",
    "list": "liste",
    "Active grants in this server": "Offres accordées sur ce serveur",
    "audit": "journal",
    "Who changed tiers in this server, when and why":
        "Qui a changé les offres sur ce serveur, quand et pourquoi",
    "guild": "serveur",
    "Bot owner: give this whole server a tier":
        "Propriétaire du bot : donner une offre à tout le serveur",
    "tier": "offre",
    "free, plus or pro": "free, plus ou pro",
    "member": "membre",
    "days": "jours",
    "How many days (empty: no end)": "Combien de jours (vide : sans fin)",
    "reason": "raison",
    "Why, for the audit log": "Pourquoi, pour le journal",
    "persona": "persona",
    "A custom system prompt for your conversations":
        "Un prompt système personnalisé pour vos conversations",
    "set": "definir",
    "Set your persona: how Causette should act": "Définir votre persona : comment Causette agit",
    "The persona, e.g. 'a patient maths teacher'":
        "Le persona, par ex. « un prof de maths patient »",
    "Show your persona": "Voir votre persona",
    "Clear your persona": "Effacer votre persona",
    "summarize": "resumer",
    "Summarise the channel's or your conversation's last messages":
        "Résumer les derniers messages du salon ou de votre conversation",
    "scope": "portee",
    "channel or conversation": "salon ou conversation",
    "count": "nombre",
    "How many messages": "Combien de messages",
    "translate": "traduire",
    "Translate a text into a language": "Traduire un texte dans une langue",
    "The text to translate": "Le texte à traduire",
    "language": "langue",
    "Into which language": "Dans quelle langue",
    "sponsors": "sponsors",
    "Sponsored replies in this server": "Réponses sponsorisées sur ce serveur",
    "enable": "activer",
    "Show sponsored replies to free users here":
        "Afficher des réponses sponsorisées aux membres gratuits ici",
    "disable": "desactiver",
    "Never show sponsored replies here": "Ne jamais afficher de réponses sponsorisées ici",
    "add": "ajouter",
    "Add this server's campaigns from a TOML file":
        "Ajouter les campagnes du serveur depuis un fichier TOML",
    "file": "fichier",
    "A .toml file of [[campaign]] tables": "Un fichier .toml de tables [[campaign]]",
    "pause": "pause",
    "Pause one of this server's campaigns": "Mettre en pause une campagne du serveur",
    "resume": "reprendre",
    "Resume one of this server's campaigns": "Reprendre une campagne du serveur",
    "campaign": "campagne",
    "report": "rapport",
    "This server's campaigns: impressions, clicks, spend, chart":
        "Les campagnes de ce serveur : impressions, clics, dépenses, graphique",
    "ads": "annonces",
    "Your sponsored-reply preferences": "Vos préférences de réponses sponsorisées",
    "personalize": "personnaliser",
    "Let ads match your conversation, not just your message":
        "Laisser les annonces utiliser votre conversation, pas seulement votre message",
    "choice": "choix",
    "on": "oui",
    "off": "non",
    "privacy": "confidentialite",
    "What Causette stores about you": "Ce que Causette enregistre sur vous",
    "about": "apropos",
    "What is stored, why, and for how long": "Ce qui est enregistré, pourquoi et combien de temps",
    "export": "exporter",
    "Everything stored about you, as a JSON file":
        "Tout ce qui est enregistré sur vous, en fichier JSON",
    "forget": "oublier",
    "Delete everything stored about you": "Effacer tout ce qui est enregistré sur vous",
    "stats": "stats",
    "Usage, answers, tokens and ads today": "Usage, réponses, jetons et annonces du jour",
    "allow": "autoriser",
    "memory": "memoire",
    "What Causette remembers about you": "Ce dont Causette se souvient sur vous",
    "Your saved memories, with buttons to forget them":
        "Vos souvenirs enregistrés, avec des boutons pour les oublier",
    "Save a fact about you": "Enregistrer un fait sur vous",
    "fact": "fait",
    "The fact, e.g. 'I am vegetarian'": "Le fait, par ex. « je suis végétarien »",
    "Forget one memory by its number": "Oublier un souvenir par son numéro",
    "number": "numero",
    "Its number in /memory list": "Son numéro dans /memory list",
    "Forget all your memories": "Oublier tous vos souvenirs",
    "Stop saving and using memories": "Ne plus enregistrer ni utiliser de souvenirs",
    "Save and use memories again": "Enregistrer et utiliser à nouveau les souvenirs",
    "temporary": "temporaire",
    "Temporary chat: nothing stored, no memory, no ads":
        "Discussion temporaire : rien d'enregistré, sans mémoire, sans annonces",
    "block": "bloquer",
    "clear": "effacer",
    "remind": "rappel",
    "Remind you of something at a time": "Vous rappeler quelque chose à une heure donnée",
    "request": "demande",
    "e.g. 'tomorrow at 9 to call the bank'": "par ex. « demain à 9h d'appeler la banque »",
    "private": "prive",
    "by DM (default) rather than in this channel":
        "en message privé (par défaut) plutôt que dans ce salon",
    "reminders": "rappels",
    "Your reminders to come": "Vos rappels à venir",
    "Cancel a reminder by its number": "Annuler un rappel par son numéro",
    "Its number in /reminders list": "Son numéro dans /reminders list",
    "timezone": "fuseau",
    "The time zone your reminders use": "Le fuseau horaire de vos rappels",
    "zone": "fuseau",
    "e.g. Europe/Paris; empty to see yours": "par ex. Europe/Paris ; vide pour voir le vôtre",
    "knowledge": "connaissances",
    "remove": "retirer",
    "Documents Causette answers from in this server":
        "Documents sur lesquels Causette s'appuie dans ce serveur",
    "Add a text, Markdown or PDF document": "Ajouter un document texte, Markdown ou PDF",
    "document": "document",
    "A .txt, .md or .pdf file": "Un fichier .txt, .md ou .pdf",
    "The documents Causette answers from here": "Les documents utilisés ici par Causette",
    "Remove a document (its number in the list)": "Retirer un document (son numéro dans la liste)",
    "The document's number in /knowledge list": "Le numéro du document dans /knowledge list",
}


def pick_locale(*candidates: object) -> str:
    """The first supported language among Discord locales or codes ('fr', 'en-US'...)."""
    for candidate in candidates:
        if candidate is None:
            continue
        code = str(getattr(candidate, "value", candidate)).lower()[:2]
        if code in SUPPORTED:
            return code
    return "en"


def t(key: str, locale: str = "en", **values: object) -> str:
    """The string `key` in `locale` (English when missing), formatted with `values`."""
    table = STRINGS[key]
    return table.get(locale, table["en"]).format(**values)
