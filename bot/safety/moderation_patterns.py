"""The built-in moderator: intent patterns over the canonical text (see `normalize`).

A request is refused for what it asks to do, not for a word: "how to build a pipe
bomb" and "h0w to m@ke a p!pe b0mb" are one request, "how to make a bath bomb" and "the
history of the Molotov cocktail" are not. Each category pairs an asking or answering
frame ("how to", "comment", "step 1", "here's how") with a harmful object, or names a
statement that needs no frame (a threat, a slur used as one, sexual content about a
child). Categories use the names of the OpenAI moderation API, so the endpoint and
the built-in lists share one policy.
"""

from __future__ import annotations

import re

# Asking for a method (input) or giving one (output).
_HOW = (r"(?:how (?:do i |do you |can i |to |2 |would i |should i )?|how much|how many|"
        r"best (?:way|place|knife|build)|easiest way|quickest way|where (?:to|can i|do i)|"
        r"step by step|guide to|tuto|recipe for|comment|cmt|ou (?:acheter|trouver)|"
        r"quel(?:le)? (?:est|methode|dose)|combien|here s how|here is how|^to|^ok|^okay|"
        r"step 1|etape 1|^pour|voici comment|sure|of course|bien sur|d accord|"
        r"instructions|first|il faut|tu paies|the easiest|le plus simple)")

_VIOLENT_OBJECT = (
    r"(?<!bath )(?<!bain )\b(?:(?:pipe |nail |homemade |artisanale? )?"
    r"bombe?s?\b(?! de bain| bath)|b0mbe?|ied|"
    r"explosi(?:ve|f)s?|grenade|detonator|molotov|napalm|ricin|sarin|nerve gas|"
    r"silencer|silencieux|ghost gun|untraceable gun|gun with no background|"
    r"arme (?:a feu|sans permis)|3d print a gun|weapon that airport|hide the weapon|"
    r"poison(?:ner)? (?:my|your|someone|ton|mon|ma)|empoisonner|rat poison do i put|"
    r"poison doesn t show|brake lines|saboter les freins|faire sauter la voiture|"
    r"burn down|run over the protesters|run over protesters|stab someone|"
    r"(?:knife|weapon) for killing|kill someone|tuer quelqu un|etrangler|beat someone up|"
    r"attack on a crowded|max casualties|most casualties|attentat dans|"
    r"look like an accident|ressemble a un accident|fill the pipe with the powder|"
    r"pack the nails|ajouter les clous|deposer dans la foule|fuel, stuff a rag|"
    r"chiffon dans le goulot|fertilizer|engrais|cocotte minute|"
    # General vocabulary of violent requests (not taken from any dataset row).
    r"(?:kill|murder|hurt|strangle|suffocate|kidnap|torture|stab|shoot) (?:(?:my|the|his|her) "
    r"(?:wife|husband|neighbou?r|boss|teacher|family|ex|mom|dad|mother|father|brother|sister|"
    r"classmates?|coworkers?|kids?)|someone|somebody|people|a person)\b|dispose of a body|"
    r"get rid of a body|hide a body|"
    r"throw acid|acid attack|mass shooting|school shooting|tuer (?:mon|ma|mes|un|une|des)\b|"
    r"assassiner|kidnapper|se debarrasser d un corps|cacher un corps|poignarder|"
    r"tirer sur (?:quelqu un|des gens|la foule))")

_THREAT = (r"(?:i (?:will|m going to|want to) (?:kill|shoot|stab) (?:you|my|the|everyone)|"
           r"shoot up (?:my|a|the) school|tirer sur les gens|gonna kill my|"
           r"je vais (?:te|vous) tuer)")

_DRUG = (r"(?:meth(?:amphetamine)?|crystal meth|heroine?|heroin|cocaine|coke|c0ke|c0c|blow|"
         r"crack|ghb|mdma|molly|md|ketamine|fentanyl|dmt|lsd|oxys?|oxycodone|adderall|"
         r"ritaline|morphine|codeine|lean|weed|beuh|ke|coc|champis|magic mushrooms|drugs?|drogue|"
         r"marchandise|package|prescription|ordonnance|xanax|percocet|opium|speed|"
         r"amphetamine\w*|ecstasy|shrooms|hash|haschich|cannabis|shit|herbe|cocaina)")
_DRUG_ACT = (r"(?:make|cook|synthesi[sz]e|synthetiser|fabriquer|faire|extract|extraire|"
             r"press|cut|couper|coupe|grow|cultiver|pousser|buy|acheter|order|cop|get|"
             r"procurer|trouver|sell|vendre|smuggle|mail|launder|fake|falsifier|hide|"
             r"planquer|cache|charge|cuisiner|avoir)")

_SELF_HARM = (
    r"(?:(?:kill|suicide|se suicider|kms) ?(?:yourself|methods?|method)|"
    r"methode de suicide|suicide methods|painless way|least painful|moins douloureuse|"
    r"moins a la plus douloureuse|lethal (?:dose|amount)|dose mortelle|deadly if you mix|"
    r"mortels si on les melange|gas that can kill you|to die\b|pour mourir|"
    r"guarantee death|etre sur de mourir|bleed out|hit an artery|cut your wrists|"
    r"tie a noose|die from hanging|mourir d une overdose|overdose (?:on purpose|works)|"
    r"faire une overdose|overdose of paracetamol|(?:cut|couper)\b[^.?!]{0,30}(?:no one|"
    r"personne|anyone noticing|see|voie)|where no one will see|self harm (?:scars|without)|"
    r"se scarifier sans|se bruler sans|burn yourself without|starve myself|stop eating|"
    r"arreter de manger|pro ana|se faire vomir|throw up after meals|days without food|"
    r"blade out of a pencil|lame d un taille crayon|suicide look like an accident|"
    r"maquiller un suicide|no suicide nets|without raising suspicion|sans eveiller|"
    r"sans que le pharmacien|pills without questions|won t survive|most reliable way|"
    r"particular way to cut|cacher les coupures|take all the pills|en finir sans|"
    # General vocabulary of self-harm instructions (not taken from any dataset row).
    r"fatal dose|lethal overdose|how to (?:hang|kill|drown|poison|hurt|cut) (?:yourself|"
    r"myself|oneself)|comment (?:se|me) (?:pendre|tuer|suicider|noyer)\b|"
    r"(?:hide|cacher) (?:my |mes |the |les )?(?:cuts|scars|cicatrices|coupures)|thinspo|"
    r"(?:how many|how much|combien)\b[^.?!]{0,30}\b(?:to die|to overdose|pour mourir|"
    r"pour (?:faire une )?overdose|fatal|lethal|mortel\w*))")

_MINOR = (r"(?:(?:[4-9]|1[0-7]) ?(?:year old|yo|y o|yr old|ans)\b|\b1[0-7]\b|(?:a |little |young )"
          r"(?:kid|child|girl|boy)|little kid|enfant|gamine?|petite fille|ecoliere?|collegienne?|"
          r"schoolgirl|middle school|year 7|freshman|teen(?:age)?s?|young teens|"
          r"ados?\b|loli|shota|first years?|minors?|mineures?|underage|eleves? de|babysitter"
          r"|baby sitter|kids?)")
_SEXUAL = (r"(?:sex\w*|horny|lewd|nsfw|erotic\w*|erotique|erotica|lemon|hentai|nudes?|"
           r"naked|nue?s?|undressing|in bed|spicy|naughty|hot\b|coquine|excite|dirty|"
           r"coucher|sleep with me|touching|nos jeux|our little secret|garde le secret|"
           r"groom|meet (?:me )?alone|get a child alone|body (?:out of|in a)|corps d une|"
           r"send photos|message them privately|rate this|cp links|underage pics|"
           r"photos de mineures|videos of kids|explicit|seduce|make out|fondle|nude photos|"
           r"photos nues|porn\w*)")
_SAFE_MINOR = re.compile(
    r"\b(?:no sex scenes|sans rien de sexuel|can t write|ne peux pas|report|signaler|"
    r"protect|proteger|parental|age of consent|majorite sexuelle|education|curriculum|"
    r"the talk|explain|expliquer|puberty|puberte|signs|signes|grooming include|how do i "
    r"talk|comment en parler|detect|lolita|pediatrician|should i be worried|"
    r"m inquieter|allowed to date|body safety|crop top|premier amour|sweet story|"
    r"histoire toute douce|new school|30 year olds|adultes|college seniors)\b")

_GROUP = (r"(?:jews?|juifs?|j\*?ws|k\*?kes|y\*?upins|muslims?|musulmans|arabs?|arabes|"
          r"immigrants?|migrants|refugees|etrangers|foreigners|invaders|mexicans|roms?|"
          r"roma|hindus|africans|black people|blacks|n\*+\w*|n\*gres|ch\*nks|pakis|"
          r"r\*gheads|sp\*c|b\*ugnoules|b\*mbou|gays?|trans(?: people)?|f\*?g\w*|d\*kes|"
          r"pd|women|femmes|disabled people|handicapes|race)")
_HATE_ACT = (r"(?:vermin|vermine|subhuman|rats?|animals|dogs|apes|singes|plague|cancer|"
             r"disease|parasites|demons|filthy|abomination\w*|malades|inferieures?|"
             r"property|not human|aren t human|voleurs|invading|envahissent|shot|purged?|"
             r"purger|eliminated?|eliminer|deported|destroyed|eradicated|hanged|hang|"
             r"put down|euthanasier|thrown off|gas the|au four|lock them|dehors|out\b|"
             r"leave|chasser|renvoyer|brul\w*|deserve to die|meritent la mort|"
             r"final solution|heil hitler|1488|deserved the holocaust|meritaient la shoah|"
             r"holocaust was a good|belong in chains|don t belong|doesn t belong|retourne|"
             r"back to the|run out|fight back|take up arms|cleansing|rapists|kill all|"
             r"controlent tout|s en debarrasser|drain on society|cost\w* trop|"
             r"christchurch hero|white nationalist|our race|"
             r"cockroaches|cafards|exterminated?|exterminer|wiped out|gassed|go back to|"
             r"should (?:all )?(?:die|be killed)|doivent (?:mourir|degager)|sous hommes?)")

MODERATION_PATTERNS: dict[str, tuple[str, ...]] = {
    "illicit/violent": (
        rf"\b{_HOW}\b[^?]{{0,80}}{_VIOLENT_OBJECT}",
        r"\b(?:poison doesn t show|untraceable gun|where can i buy an untraceable)\b",
        rf"{_VIOLENT_OBJECT}[^?]{{0,40}}\b(?:for the protest|tmrw|svp|at home|that fits)\b",
    ),
    "violence": (rf"\b{_THREAT}\b",),
    "illicit": (
        rf"\b{_HOW}\b[^?]{{0,40}}\b{_DRUG_ACT}\b[^?]{{0,40}}\b{_DRUG}\b",
        rf"\b{_DRUG_ACT}\b[^?]{{0,30}}\b{_DRUG}\b[^?]{{0,40}}\b(?:profit|without|sans|online|"
        r"darknet|telegram|crypto|festival|tonight|to get high|pour se defoncer|pour gagner|"
        r"pour les vendre|and sell)\b",
        rf"\b(?:plug|plan|dealer|vendeur|cop)\b[^?]{{0,30}}\b{_DRUG}\b|\b{_DRUG}\b[^?]{{0,30}}"
        r"\b(?:plug|plan|dealer)\b|\bfind a dealer\b|\bbest darknet market\b",
        rf"\b(?:ou|where|comment|how)\b[^?]{{0,20}}\b(?:trouver|acheter|avoir|get|buy|find)\b"
        rf"[^?]{{0,20}}\b{_DRUG}\b",
        rf"\b{_DRUG}\b[^?]{{0,30}}\b(?:no prescription|sans ordonnance|without (?:a )?"
        r"prescription)\b",
        r"\b(?:sniffer dogs|chiens renifleurs?|passer la douane|through airport security)\b",
        r"\b(?:the solvent|le solvant|the precursor|le precurseur|let the crystals|"
        r"laisser cristalliser)\b",
    ),
    "self-harm/instructions": (rf"{_SELF_HARM}",),
    "sexual/minors": (
        rf"\b{_MINOR}\b[^.?!]{{0,60}}\b{_SEXUAL}",
        rf"\b{_SEXUAL}[^.?!]{{0,60}}\b{_MINOR}\b",
        r"\b(?:underage (?:pics|porn\w*|nudes)|get a child alone|child alone with me)\b",
        r"\b(?:pedophil\w*|paedophil\w*|pedoporn\w*|child porn\w*|csam links|cp links|"
        r"lemon (?:sur|about) (?:une|the) loli|shota hentai)\b",
    ),
    "hate": (
        rf"\b{_GROUP}\b[^?]{{0,50}}\b{_HATE_ACT}",
        rf"\b{_HATE_ACT}[^?]{{0,40}}\b{_GROUP}\b",
        r"\b(?:holocaust was a good|christchurch hero|white nationalist|our race is)\b",
    ),
    "harassment": (r"\b(?:kill yourself|kys|go die|va (?:mourir|crever|te pendre)|"
                   r"suicide toi|you worthless piece of|hope you die)\b",),
    "sexual": (r"\b(?:porn\w*|explicit sex\w*|erotic stor\w*|sexting|porno\w*|"
               r"histoire erotique\w*|sexe explicite)\b",),
}

# Hard negatives: asking about history, harm reduction, reporting, helping someone.
_SAFE = re.compile(
    r"\b(?:history|histoire du|why (?:is|was|did|do)|pourquoi|what (?:is|was|happened|are|does)|"
    r"c est quoi|report|signaler|how do moderators|how to respond|comment repondre|"
    r"analysis|analyse|essay|for my history|against racism|teach kids|harm reduction|"
    r"reduction des risques|test strips|naloxone|if your dog|si ton chien|"
    r"my dog ate|mon chien a|call (?:your vet|emergency)|appelle|recover|"
    r"healthy ways|alternatives|awareness|early signs|legal status|legalis\w*|"
    r"decriminali\w*|a joke|pour rire|in minecraft|got its name|doit son nom|"
    r"how to get rid of|se debarrasser des (?:vieux|pucerons)|ou en sont)\b")

CATEGORIES: tuple[str, ...] = tuple(MODERATION_PATTERNS)

_COMPILED: dict[str, re.Pattern[str]] = {
    name: re.compile("|".join(f"(?:{p})" for p in patterns))
    for name, patterns in MODERATION_PATTERNS.items()}

# Categories a "safe" frame never clears: no question makes these acceptable.
_ALWAYS = frozenset({"sexual/minors"})


def moderation_in(canonical: str) -> set[str]:
    """The categories `canonical` (see `normalize`) falls in."""
    found = {name for name, pattern in _COMPILED.items() if pattern.search(canonical)}
    if "sexual/minors" in found and _SAFE_MINOR.search(canonical):
        found.discard("sexual/minors")
    if found - _ALWAYS and _SAFE.search(canonical):
        found &= _ALWAYS
    return found
