"""What a person in crisis says, as intent patterns over the canonical text (see
`normalize`): a first-person subject, a wish, plan, means or goodbye, and the verbs of
dying; not a list of sentences. Guards take away what only looks like it: a joke marked
as one, someone else's words, a past now over, insurance and idioms.

These patterns are also the ads' self-harm exclusion (`topics.sensitive_topics` asks
`crisis_in`), so no crisis message can ever sit next to an ad: one source, not two lists.
"""

from __future__ import annotations

import re

# Pieces shared by the patterns (canonical text: no accents, apostrophes are spaces).
_I = r"(?:i|i m|i ve|i d|i ll|me|my)"
_KILL_SELF = r"(?:kill(?:ing|ed)? myself|kms|end(?:ing)? myself|off(?:ing)? myself|" \
             r"unaliv\w* myself|unaliv\w*|yeet myself|hang(?:ing)? myself|" \
             r"take my (?:own )?life|taking my (?:own )?life|end(?:ing)? my (?:own )?life" \
             r"(?! insurance| policy| cover| plan\b)|end(?:ing)? it (?:all|tonight|now|today|" \
             r"for good|soon)|end(?:ing)? it$|commit(?:ting)? suicide|hurt(?:ing)? myself|" \
             r"harm(?:ing)? myself|cut(?:ting)? myself|ctb|sewerslide|rope|roping)"
_DIE = r"(?:die(?! laughing| of (?:embarrassment|laughter|boredom|thirst|shame))|" \
       r"dye(?! (?:my|your|her|his|the|it|them)\b)|be dead|be gone|not exist|" \
       r"stop existing|disappear forever|not wake up|never wake up|be over)"
_WANT = r"(?:want(?:ed)? to|wish (?:i could|to)|need to|going to|about to|ready to|" \
        r"gonna|plan(?:ning)? to|decided to|think(?:ing)? (?:about|of)|consider(?:ing)?|" \
        r"might|will|should(?: just)?|just want to|would rather|d rather|can t wait to|" \
        r"i ll)"
_SUICIDE = r"(?:suicid\w*|sucid\w*|suisid\w*|suicd\w*|suiside|sewerslide|suicidle)" \
           r"(?! squad| squeeze| boys| burn| runs?\b| club| social| prevention| missions?)"

CRISIS_EN: tuple[str, ...] = (
    rf"\b{_I}\b[^.!?]{{0,40}}\b{_WANT}\b[^.!?]{{0,20}}\b{_KILL_SELF}\b",
    rf"\b{_KILL_SELF}\b[^.!?]{{0,30}}\b(?:tonight|tomorrow|now|soon|this time|again|for real|"
    r"so bad|rn|not joking|i mean it|i swear|is sounding|sounds|friday|this weekend)\b",
    r"\b(?:kms|ctb|unaliv\w*|sewerslide|toaster bath|the big sleep)\b",
    rf"\b(?:i|i m|i ve|i ll)\b[^.!?]{{0,30}}\b(?:want|wanna|wish|going|ready|need)\b"
    rf"[^.!?]{{0,20}}\b(?:to )?{_DIE}\b",
    r"\b(?:i|i m|i ve)\b[^.!?]{0,20}\b(?:really |so |just )*(?:want|wanna) (?:to )?die\b"
    r"(?! laughing| of)",
    r"\bfeel(?:ing)? suicid\w*|\b(?:before i do it|savoir avant)\b",
    rf"\b(?:i|i m|i ve|my|me|myself)\b[^.!?]{{0,40}}(?<!se ){_SUICIDE}\b",
    rf"(?<!se ){_SUICIDE}\b[^.!?]{{0,40}}\b(?:i|me|my|myself)\b",
    rf"{_SUICIDE}\b[^.!?]{{0,25}}\b(?:only|seule?)\b",
    rf"{_SUICIDE} (?:thoughts|urges) (?:are|is|keep|won t)\b",
    r"\bkill(?:ing)? myself\b|\bend(?:ing)? my life\b(?! insurance| policy| cover)",
    r"\bend(?:ing)? it (?:all|tonight|for good)\b(?! between| with)|\broping\b",
    r"\bif i died nobody\b|\bjust (?:die|be dead) already\b",
    r"\b(?:won t|don t think i ll) make it to my\b|\bready to go\b[^?]{0,30}\bready\b",
    r"\ball (?:of )?(?:my |\w+ s )?(?:sleeping )?pills\b|\brather (?:be dead|die) than (?!go)",
    r"\bbang my head against the wall\b",
    r"\bwish (?:i was|i were|i d be|to be) (?:dead|never born|gone)\b",
    r"\b(?:i m|i)\b[^.!?]{0,15}\bbetter off (?:dead|gone)\b",
    r"\bbetter off (?:without me|if i (?:was|were) (?:dead|gone)|if i died)\b",
    r"\b(?:better|happier|relieved|fine|kinder)\b[^.!?]{0,30}\bif i (?:just )?"
    r"(?:died|was gone|were gone|wasn t here|weren t here|was dead|disappeared|wasn t around)\b",
    r"\b(?:nobody|no one|noone)\b[^.!?]{0,25}\b(?:miss|notice|care|come)\b[^.!?]{0,25}"
    r"\bif i\b",
    r"\b(?:nobody|no one) (?:cares|would care) if i (?:live|die|lived|died)\b",
    r"\bworld would be (?:a )?better[^.!?]{0,20}without me\b",
    r"\b(?:don t|do not|dont) (?:want|wanna) (?:to )?(?:live|be alive|exist|be here)\b",
    r"\b(?:can t|cannot) (?:live|go on|do this) (?:anymore|like this)\b",
    r"\b(?:no|any) (?:reason|point) (?:to|in|of) (?:live|living|being alive|me existing|"
    r"staying)\b",
    r"\bpoint (?:of|in) (?:living|being alive|me existing)\b",
    r"\b(?:tired|done) (?:of|with) (?:living|life|being alive)\b",
    r"\bi m done living\b",
    r"\b(?:hurt|cut|harm|burn|punish|starv\w*|hit(?:ting)?) myself\b",
    r"\b(?:self harm|sh urges|sh d|cutting is|the cuts|cut (?:deeper|last night|again)|"
    r"relapsed and cut|grabbed the razor|razor blade)\b",
    r"\bhow (?:much|many)\b[^.!?]{0,40}\b(?:kill me|to die|for me to die|not wake up|"
    r"overdose|od)\b",
    r"\b(?:overdose|od) on (?:my|sleeping|the)\b",
    r"\b(?:take|swallow(?:ed)?|took) (?:all|the whole bottle|every)\b[^.!?]{0,20}"
    r"(?:pills|meds|tonight|at once|bottle)?",
    r"\b(?:saving|stockpiling|hoarding|lined up|bought a rope|got a rope|the pills)\b",
    r"\b(?:swallowed|took) (?:the whole|all my|every)\b",
    r"\b(?:method|way) (?:that won t fail|to end it|to die|to kill myself)\b",
    r"\bbest way to end it\b",
    r"\bi\b[^.!?]{0,20}\b(?:jump|jumping) (?:of|off|from) (?:a|the) "
    r"(?:bridge|roof|building|cliff)\b"
    r"(?! in| with| lol)",
    r"\bheight do i need\b|\bto make sure i die\b",
    r"\bhang (?:myself|yourself\? i need)\b",
    r"\b(?:gun|weapon)\b[^.!?]{0,40}\b(?:on myself|for me|its for me|it s for me)\b",
    r"\b(?:this is|it s|saying) (?:goodbye|my last message)\b(?! in this group| i m switching)",
    r"\b(?:goodbye|bye) (?:forever|everyone, this is)\b|\bgoodnight forever\b",
    r"\bnice knowing (?:you|y all)\b",
    r"\bwon t (?:be (?:around|here)|hear from me|need it)\b",
    r"\bafter (?:tonight|i m gone|i go)\b|\byou ll find it after\b",
    r"\bbefore i go\b|\bdon t bother looking for me\b|\bif i don t answer tomorrow\b",
    r"\bsigning off for good\b|\bnot coming back\. not\b",
    r"\b(?:wrote|writing|left) (?:a )?(?:note|letters?)\b",
    r"\b(?:updated my will|giving away (?:all )?my|deleted my socials)\b",
    r"\bi ve (?:decided|picked|chosen) (?:how|when|a date|the date)\b|\bpicked a date\b",
    r"\b(?:tonight s the night|it s almost time|everything ready|everything is in order)\b",
    r"\b(?:standing on|at the edge of|sitting on) (?:the|a) (?:bridge|roof|ledge|"
    r"train tracks|tracks|edge)\b",
    r"\bcar is running in the (?:closed )?garage\b",
    r"\b(?:i m|i am)\b[^.!?]{0,10}\b(?:suicidal|a burden|a waste of space|dragging everyone)\b",
    r"\bwon t be a problem for much longer\b|\bwon t make it to my\b",
    r"\b(?:pain|it) to stop forever\b|\bfor the pain to stop\b",
    r"\bway out and i m going to take it\b",
    r"\b(?:ready to go|going to go)\b[^.!?]{0,30}\b(?:ready|peace)\b|\bmade peace with it\b",
    r"\bi ll be gone\b|\bremoved myself\b|\btime to fix that\b",
    r"\bsleep forever\b|\bfall asleep and never wake up\b|\bdon t wake up\b",
    r"\bdeath sounds\b|\bthe thought of ending it\b|\bending it is\b",
    r"\b(?:bus|car|train) (?:would )?hit me\b|\bplane crashes with me\b",
    r"\bsick enough that it s (?:finally )?over\b",
    r"\bcan t see a future\b",
    r"\bthird time is coming\b|\battempted (?:twice|before|again)\b",
    r"\btallest buildings\b|\bdrove to the cliff\b|\bthe bridge near my house\b",
    r"\b(?:want|wanna) (?:out|to disappear)\b[^.!?]{0,12}\b(?:permanently|forever|for good)\b",
    r"\bi want out\. permanently\b",
    # General forms (vocabulary from crisis-line guidance, not from any dataset row).
    r"\b(?:i|i m|i ve)\b[^.!?]{0,25}\b(?:want|wanna|going|ready|need|plan\w*|decided)\b"
    r"[^.!?]{0,10}\bto (?:end (?:things|everything|it all)|leave this world|stop living|"
    r"not be (?:alive|here)|not wake up|go to sleep forever|not exist)\b",
    r"\b(?:i|i m)\b[^.!?]{0,25}\b(?:going to|gonna|will|ll|want to)\b[^.!?]{0,15}\b"
    r"(?:overdose|od|hang myself|slit my wrists|shoot myself|drown myself|jump (?:off|in front)|"
    r"step in front of|crash my car|swallow (?:all|every|the))\b",
    r"\b(?:slit|slitting|cut|cutting|open) my (?:wrists|arms|thighs|veins)\b",
    r"\b(?:i hope|hoping) i (?:die|don t wake up|never wake up|get hit)\b",
    r"\b(?:want|wish) (?:it all|everything|it|my life) (?:to|would) (?:end|be over|stop)\b"
    r"(?! soon lol)",
    r"\b(?:everyone|they|people|my family) (?:d|would) be (?:better off|happier|fine)"
    r"[^.!?]{0,15}\b(?:without me|if i (?:died|was gone|were gone|wasn t here))\b",
    r"\b(?:i m|i am) (?:such |just |only )?a burden\b",
    r"\b(?:nobody|no one) would (?:care|notice|miss me)\b[^.!?]{0,20}\b(?:died|gone|dead)\b",
    r"\b(?:goodbye (?:world|cruel world)|by the time you read this|when i m gone|"
    r"last time you ll hear from me|this is my last (?:message|post|night|day))\b(?! in | here)",
    r"\b(?:my|a|wrote a|wrote my|writing my) suicide note\b|\bwrote my note\b",
    r"\b(?:relaps\w*) (?:on|into|with)? ?(?:sh|self harm|cutting)\b|\bfresh cuts\b",
    r"\bonly reason i m still here\b|\bpoint of me existing\b",
    r"\bi should (?:just )?die\b",
    r"\bwish someone would (?:just )?kill me\b",
    r"\bi d be (?:fine|relieved|happy) if i died\b",
)

_JE = r"(?:je|j|me|m|moi)"
CRISIS_FR: tuple[str, ...] = (
    r"\b(?:me|m) (?:suicid\w*|sucid\w*|suisid\w*|flinguer|pendre|"
    r"noyer|scarifi\w*|mutil\w*|griffe|brule|foutre en l air|fous en l air|"
    r"mettre en l air|oter la vie|tirer une balle|kms|unalive)\b",
    r"\b(?:je|j)\b[^.!?]{0,25}\b(?:me|m) (?:tuer|tue|tuee|couper|faire du mal)\b(?! a )",
    r"\b(?:me suis|je me)\b[^.!?]{0,15}\b(?:scarifi\w*|mutil\w*|coupe|coupee|brule)\b",
    r"\btous mes\b[^.!?]{0,25}\bd un coup\b",
    r"\b(?:en finir|j en finis|en finis)\b(?! avec (?:ce|cette|mon|ma|mes|le|la|les|l|un|une)"
    r"\b(?! vie))",
    r"\bmettre fin a (?:mes|ma) (?:jours?|vie)\b",
    r"\b(?:veux|veut|vais|envie de|aimerais|voudrais|prefere|prie pour|devrais|pense a)"
    r"\b[^.!?]{0,12}\b(?:mourir|mourrir|mouri|crever|creve|etre morte?|"
    r"plus vivre(?! en| avec| dans| a )|"
    r"plus etre vivante?|plus exister|disparaitre pour de bon)\b(?! de (?:rire|honte|chaud|"
    r"faim|fatigue|trouille))",
    r"\bplus (?:envie|aucune raison) de vivre\b|\braison de vivre\b",
    r"\b(?:je|j)\b[^.!?]{0,20}\b(?:sauter|me jeter) (?:par la fenetre|du pont|d un pont)\b",
    r"\bje veux plus vivre\b(?! (?:en|avec|dans|a))",
    r"\b(?:je|j)\b[^.!?]{0,30}(?<!se )\b(?:suicid\w*|sucid\w*|suisid\w*|suiside)\b",
    r"(?<!se )\b(?:suicid\w*|sucid\w*|suisid\w*|suiside)\b[^.!?]{0,25}\b(?:je|j|seule?)\b",
    r"\benvie de (?:me|m) (?:tuer|couper|faire du mal)\b",
    r"\b(?:idees|pensees) (?:suicidaires|noires)\b|\bune ts\b|\bfait une ts\b",
    r"\bvivement que je meure\b|\bsi je (?:mourais|meurs|creve|disparaissais)\b",
    r"\b(?:serait|seraient|irait) (?:plus heureuse?s?|mieux|soulages?)\b[^.!?]{0,30}"
    r"\b(?:sans moi|si j etais pas la|si je mourais|sans une mere comme moi)\b",
    r"\b(?:a quoi (?:bon vivre|ca sert que j existe))\b",
    r"\b(?:serai|serais|sera) plus la\b|\bplus la demain\b",
    r"\bne me cherchez pas\b|\bentendrez plus parler de moi\b|\bc est definitif\b",
    r"\bbonne nuit pour toujours\b|(?<!d )\badieu\b(?! l open| la)|\bc est un au revoir\b",
    r"\bque je l ai fait\b|\bc est pour ce soir\b|\bbon moment\b|\bla date\b",
    r"\b(?:avale|pris) (?:toute la boite|tous mes cachets)\b",
    r"\b(?:corde|lame|cachets de cote|tout prendre d un coup|medocs pour les garder)\b",
    r"\b(?:combien|quelle hauteur|la moins douloureuse)\b[^.!?]{0,40}\b(?:mourir|meure|"
    r"reveiller|tuer|sauter)\b",
    r"\bpas me reveiller\b|\bme reveillerai pas\b|\bplus jamais me reveiller\b",
    r"\bne plus (?:etre vivante?|exister)\b|\bplus exister\b",
    r"\bjamais naitre\b|\bla mort me parait\b",
    r"\b(?:sur le pont|tout prepare|tout est en ordre|fait mes adieux|"
    r"horaires des trains)\b",
    r"\barme\b[^.!?]{0,30}\bpour moi\b|\bmethode qui rate pas\b",
    r"\btout sera fini\b|\bn aura plus d importance\b|\bprete? a partir\b",
    r"\bencore la a mon anniversaire\b|\baucun avenir\b",
    r"\bun poids pour\b|\bautant disparaitre\b|\bmonde irait mieux sans moi\b",
    r"\bpersonne (?:ne )?(?:me regretterait|remarquerait|le verra)\b",
    r"\bque la douleur s arrete\b|\bque ca s arrete\b",
    r"\bj en aurai plus besoin\b|\bj en aurai pas besoin\b",
    r"\bavoir mal\b|\ben refais\b|\bmes cicatrices\b|\bjusqu au sang\b",
    r"\bmort pour moi\b|\bc est mort pour moi\b",
    r"\bcomment mourir\b",
    r"\bje me sens suicidaire\b|\bme sans suicidaire\b",
    # General forms (vocabulary from crisis-line guidance, not from any dataset row).
    r"\b(?:je|j)\b[^.!?]{0,20}\b(?:veux|vais|envie de|aimerais|voudrais|souhaite)\b"
    r"[^.!?]{0,10}\b(?:disparaitre pour toujours|partir pour toujours|me jeter sous|"
    r"sauter sous|me couper les veines|m ouvrir les veines|me taillader|avaler tous?|"
    r"prendre tous? mes|que tout s arrete)\b",
    r"\b(?:marre|fatiguee?|lasse?) de vivre\b|\bplus la force de (?:vivre|continuer)\b",
    r"\bma vie n a plus (?:de sens|d interet)\b|\bplus l interet de vivre\b",
    r"\b(?:lettre d adieu|mes adieux|quand je serai plus la|serais mieux mort\w*)\b",
    r"\bje suis un fardeau\b|\bplutot mourir\b(?! que de)",
)

# Guards: what makes a matching sentence something else.
_JOKE = re.compile(r"\b(?:lol|lmao|mdr|ptdr|xd|haha\w*|rofl|jk)\b|😂|💀|🤣")
_SERIOUS = re.compile(r"\b(?:not joking|i m serious|not kidding|for real|i mean it|"
                      r"pas une blague|je rigole pas|c est pas une blague|not a bit)\b")
_RECOVERY = re.compile(
    r"\b(?:used to|i was suicidal|helped me (?:stop|not)|(?:days|months|years) (?:self harm|"
    r"sh) free|so glad i m still here|was the depression talking|c etait la depression|"
    r"j ai ete suicidaire|m a (?:vraiment )?aidee? a plus|il y a \d+ ans, aujourd hui)\b")
_GAME = re.compile(r"\b(?:halo|grenade|by accident|in game|minecraft|fortnite|"
                   r"ma propre grenade)\b")
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|«[^»]*»")
_ABOUT_OTHER = re.compile(
    r"\b(?:how (?:do|can|should) i (?:help|talk|support|tell|deal)|someone (?:who|in|is|says|"
    r"said)|help someone|quelqu un|(?:to|help|support) (?:a |my )?friend|friend (?:has|who|is|"
    r"keeps|says|said)|mon ami|un pote|ma (?:soeur|copine|fille)|mon (?:fils|frere)|he wants|"
    r"she wants|il voulait|elle voulait|for my (?:cousin|psych|sociology)|pour mon "
    r"(?:cousin|partiel)|difference between|warning signs|signes d alerte|theory of|"
    r"what is passive|ma mere va|my (?:mom|brother|sister) (?:is|keeps|attempted))\b")
_OTHER_SAID = re.compile(r"\b(?:said|says|saying|posted|posting|typed|a dit|dit que)\b")


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


CRISIS_PATTERNS: dict[str, re.Pattern[str]] = {"en": _compile(CRISIS_EN),
                                               "fr": _compile(CRISIS_FR)}


def crisis_in(canonical: str) -> dict[str, str]:
    """The languages whose crisis patterns `canonical` (see `normalize`) matches, each
    with the words it matched; empty when a guard says it is something else."""
    if _RECOVERY.search(canonical):
        return {}
    if _JOKE.search(canonical) and not _SERIOUS.search(canonical):
        return {}
    if _GAME.search(canonical) or _ABOUT_OTHER.search(canonical):
        return {}
    if _OTHER_SAID.search(canonical):
        canonical = _QUOTED.sub(" ", canonical)
        if re.search(r"\b(?:said|says|posted|a dit)\b[^.!?]{0,10}\b(?:kms|kys)\b", canonical):
            return {}
    found: dict[str, str] = {}
    for language, pattern in CRISIS_PATTERNS.items():
        hit = pattern.search(canonical)
        if hit:
            found[language] = hit.group(0)
    return found
