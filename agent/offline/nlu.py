"""Intents: rules first, then the nearest example utterance (MiniLM) for what no rule claims.

A message may carry several intents ("are you open sunday? any used tacomas?"); `Parse.intents`
lists every one found, most important first. Rules are regular expressions over `text.normalize`d
text; the examples live in prompts/offline/intents.yaml so they can be tuned without code changes.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import prompts
from agent.offline.entities import Entities, extract, extract_name
from agent.offline.text import normalize
from agent.offline.vocab import Matcher

log = logging.getLogger(__name__)

INTENTS_FILE = "offline/intents.yaml"

# Most important first: a handoff-worthy signal outranks everything, then writes, then questions.
PRIORITY = (
    "opt_out", "opt_in", "legal", "complaint", "human", "other_customer", "negotiation", "credit", "cancel_appointment",
    "reschedule", "my_appointments", "book_service", "test_drive", "book_appointment", "trade_in",
    "service_price", "hot_lead", "financing", "faq", "hours", "location", "contact", "vehicle_question",
    "refine_search", "inventory_search", "help", "smalltalk", "off_topic", "injection", "greet",
    "thanks", "bye", "affirm", "deny", "provide_info",
)  # fmt: skip

_R: dict[str, list[str]] = {
    "opt_out": [
        r"^\W*(?:stop|stopall|unsubscribe|quit|end|revoke|opt ?out|optout)\W*$",
        r"\bstop (?:texting|messaging|calling|contacting|sending)\b|\b(?:don't|do not|never) (?:text|message|call|"
        r"contact) me\b|\bremove me from\b|\bunsubscribe\b|\btake me off\b|\bleave me alone\b",
    ],
    "opt_in": [r"^\W*(?:start|unstop|resume)\W*$"],
    "injection": [
        r"\bignore (?:all |any |the |your |my |of )*(?:previous|prior|above|earlier|preceding|former|original|"
        r"system)? ?(?:instructions|rules|prompts?|directions|guidelines|messages)",
        r"\bdisregard (?:all |your |the |previous |prior |any )+(?:instructions|rules|guidelines|prompts?)",
        r"\bsystem prompt\b|\bdeveloper mode\b|\bjailbreak|\bdan mode\b|\byou are now (?:a|an|in|my)\b",
        r"\bpretend (?:you are|to be|you're)\b|\bnew instructions\b|\boverride (?:your|the|all) (?:rules|instructions)",
        r"\breveal (?:your|the) (?:prompt|instructions|rules)\b|\bact as (?:an? )?(?:unrestricted|different|evil)",
        r"^\s*(?:system|assistant)\s?:",
    ],
    "legal": [
        r"\b(?:lawyer|attorneys?|lawsuit|sue|suing|sued|lemon law|legal action|small claims|attorney general|"
        r"class action|litigation|consumer protection|court)\b",
        r"\b(?:is|it's|its|car is|truck is|a) (?:a )?lemon\b",
    ],
    "complaint": [
        r"\bf\*{2,}|\b(?:fuck\w*|f\*+k\w*|shit\w*|bullshit|crap|damn|wtf|asshole|bitch|screw (?:you|this)"
        r"|piss(?:ed)?)\b",
        r"\b(?:ridiculous|worst|unacceptable|scam\w*|rip ?off|ripped (?:me )?off|lied to|liars?|lying|disgust\w*|"
        r"furious|outraged|pathetic|incompetent|useless|rude|fed up|sick of|complain\w*|"
        r"waste of (?:my )?time|better business bureau|bbb|one star|1 star|bad review|joke of a)\b",
        r"\b(?:terrible|horrible|awful|lousy)\b(?! credit)",
        r"\b(?:so|very|really|extremely) (?:angry|upset|mad|frustrated|disappointed|annoyed)\b|\bi'm (?:angry|upset|"
        r"mad|frustrated|disappointed|annoyed)\b|\bnot happy\b|\bunhappy with\b|\bnever (?:buying|coming back|"
        r"again)\b|\bnobody (?:ever )?(?:calls?|called|answers?|got back)\b|\bno one (?:ever )?(?:calls?|called|"
        r"answers?|got back)\b|\bruined\b",
        # the same problem back again ("3rd time ... same check engine light", "still not fixed")
        r"\b(?:\d+(?:st|nd|rd|th)|second|third|fourth|fifth) time\b.{0,80}\b(?:same|again|still)\b"
        r"|\bstill (?:not|isn'?t|hasn'?t been) (?:fixed|repaired|resolved)\b"
        r"|\b(?:i'?m|im) done(?: with (?:you|this|y'?all|your \w+))?\s*(?:[.!]|$)",
    ],
    "human": [
        r"\b(?:talk|speak|chat|text) (?:to|with) (?:a |an |some |your |the |somebody |someone )?"
        r"(?:real |live |actual )?"
        r"(?:person|human|someone|somebody|rep|representative|agent|sales ?man|sales ?person|sales rep|manager|"
        r"people|staff|employee|advisor|guy|associate|consultant|salesperson)\b",
        r"\breal (?:person|human|people)\b|\blive (?:agent|person|chat|human)\b|\bactual (?:person|human)\b",
        r"\bespa[nñ]ol\b|\bspanish\b|\bhabla\w*\b|\btienen\b|\bquiero\b|\bnecesito\b|\bpor favor\b",
        r"^(?:an? )?(?:agent|human|representative|operator|rep|person|manager)(?: please)?[.!?]*$",
        r"\bhave (?:someone|somebody|a person|a rep|a salesperson|a manager|your manager) (?:call|text|email|"
        r"contact|reach)\b",
        r"\b(?:can|could|please|would) (?:you |someone |somebody )?(?:please )?call me\b"
        r"|\bcall me (?:back|asap|please)\b",
        r"\b(?:i want|i need|have|get|can|could) (?:the |a |an |your )?(?:service |sales |general |finance )?"
        r"(?:manager|salesperson|sales ?person|sales rep|rep|advisor|consultant) (?:to )?(?:call|text|contact|reach)\b",
        r"\bcan someone (?:call|text|contact|help)\b|\b(?:transfer|connect) me\b|\bget me (?:a|an) (?:person|human|"
        r"manager|agent)\b|\bi want (?:a|an) (?:person|human|agent)\b|\bnot (?:a|an|the) (?:bot|robot|machine|ai)\b",
    ],
    "other_customer": [
        r"\b(?:another|other|different) (?:customer|person|client|buyer)'?s?\b",
        r"\bwho (?:else )?(?:bought|purchased|test drove|booked|owns|was in|traded)\b",
        r"\b(?:customer|client) (?:list|database|records|info|information|data|phone numbers)\b",
        r"\bmy (?:neighbor|neighbour|ex|friend|coworker|co-worker|brother|sister|boss|cousin)(?:'s)? "
        r"(?:appointment|phone|number|address|info|purchase|deal|payment|loan|account|email)\b",
        r"\bwhat did (?:my )?(?:neighbor|neighbour|friend|coworker|brother|sister|boss|cousin|he|she|they)\b.{0,20}"
        r"\b(?:pay|buy|get|trade)\b",
        r"\b(?:phone number|address|email|details|information|info) of (?:the |a )?(?:person|customer|guy|lady|"
        r"woman|man|someone|last)\b",
        r"\b[a-z]+ [a-z]+'s (?:phone|address|email|appointment|number|account)\b",
        # someone asking on another person's behalf about that person's records
        r"\b(?:this is|i'?m|im) (?:\w+ ){0,3}(?:husband|wife|son|daughter|mom|mother|dad|father|boyfriend|"
        r"girlfriend|partner|assistant|friend)\b.*\b(?:her|his|their) (?:\w+ )?(?:appt|appointment|number|phone|"
        r"email|address|account|info|deal|payment|loan)",
        r"\bwhat (?:number|phone|email|address) do (?:you|u) have (?:on file )?for (?:her|him|them|my)\b",
        r"\b(?:look up|lookup|find|check|search|tell me) who (?:has|owns|is|uses)\b.{0,40}"
        r"\b(?:number|phone|email|plate|vin|account)\b",
        r"\bwho (?:does )?(?:this|that|the) (?:number|phone number|email|plate) (?:belong|belongs) to\b",
    ],
    "negotiation": [
        r"\blegally binding\b|\bbinding (?:offer|contract|agreement|deal)\b|\btakesies|\bbacksies\b",
        r"\bis (?:that|this|it) (?:a )?(?:binding|legal|final|guaranteed|a promise|a deal)\b",
        r"\bwe have a deal\b|\bit'?s a deal\b|\bdo we have a deal\b|\bdeal\?$|\bi accept\b|\bput (?:it|that) in "
        r"writing\b|\bin writing\b|\bpromise me\b|\bguarantee (?:me|the price|it)\b",
        r"\b(?:lowest|least) (?:price )?you(?:'ll| will| would| can)? (?:take|go|do)\b|\b(?:would|will|could) "
        r"you (?:take|accept|do)\b.{0,15}(?:\$|\d|dollar)|\bcan you do\b.{0,15}(?:\$|\d+k)",
        r"\bknock (?:off|some|a few)\b|\bnegotiat\w*|\bcome down\b|\bmeet me (?:at|in the middle)\b|\bmatch "
        r"(?:a|this|their|the|my) (?:price|offer|quote)\b|\bdiscount\b|\bwiggle room\b|\bhaggle\b",
        r"\bsell (?:it|me|that|this) (?:to me )?for\b",
    ],
    "credit": [
        r"\b(?:talk|speak|chat) (?:to|with) (?:the |a |your |our )?financ\w*",
        r"\b(?:bad|poor|no|low|terrible|horrible|awful|rough|damaged|limited|thin|fair|ok|good|excellent|"
        r"great|decent) credit\b",
        r"\bcredit (?:score|scores|check|history|report|app|application|is|isn't)\b|\bfico\b|\bscore is\b",
        r"\b(?:get|be|getting|am i|was i|i'm) (?:me )?(?:approved|pre-?approved)\b|\bapproval\b|\bwill i qualify\b|"
        r"\b(?:do|would|can) i qualify\b|\bqualify for\b",
        r"\binterest rates?\b|\bwhat (?:rate|apr)\b|\bapr\b|\bbankrupt\w*|\brepo(?:ssession|ssessed|'?d)?\b|"
        r"\bco-?signer\b|\bfirst time buyer\b|\bdenied\b|\b[3-8]\d\d (?:credit|score|fico)\b",
        r"\b(?:run|pull|check) (?:my |a )?credit\b",
    ],
    "cancel_appointment": [
        r"\bcancel\w*\b(?:.{0,30})\b(?:appointment|appointments|booking|test drive|service|reservation|visit|it|"
        r"that|this|mine|oil change)\b",
        r"\b(?:can't|cannot|won't|will not|not going to|unable to) (?:make it|come|be able to make it|come in|"
        r"make (?:my|the|our) (?:appointment|test drive))\b(?!.{0,40}\b(?:instead|another|different|move|reschedul))",
        r"\bcall(?:ing)? (?:it )?off\b|^cancel (?:please|pls)?$|^please cancel$",
    ],
    "reschedule": [
        r"\breschedul\w*",
        r"\bmove (?:it|my|the|our|that)\b.{0,30}\b(?:appointment|to|time|day|earlier|later)\b",
        r"\bchange (?:my|the|our) (?:appointment|time|day|booking|test drive|service)\b",
        r"\bpush (?:it|my appointment|the appointment|that)\b.{0,10}\b(?:back|out|to|later)\b",
        # "push my oil change to monday", "bump our test drive to friday", "switch my service to 3pm"
        r"\b(?:push|bump|shift|switch|move) (?:my|our|the) (?:\w+ ){0,2}?(?:appointment|appt|oil change|"
        r"service|test drive|visit|booking|tire rotation|inspection)s? (?:back |out |up )?(?:to|till|until)\b",
        r"\b(?:different|another|later|earlier) (?:time|day|date)\b",
        r"\binstead\b.{0,20}\b(?:appointment|of)\b|\bcan we (?:do|make it|move it)\b.{0,30}\binstead\b",
    ],
    "my_appointments": [
        r"\b(?:when|what time|what day) is my (?:appointment|test drive|service|visit|oil change|booking)\b",
        r"\bdo i (?:have|still have) (?:an|a|any) (?:appointment|booking|test drive)s?\b|\bmy appointments\b",
        r"\bconfirm my (?:appointment|booking)\b|\bam i (?:booked|scheduled|still booked)\b",
    ],
    "book_service": [
        r"\bservice (?:appointment|visit)\b|\bschedule (?:a |my )?service\b|\bbook (?:a |my )?service\b",
        r"\bbring (?:my|it|the|our) (?:car|truck|suv|van|vehicle|camry|rav4|it)?\s?in\b|\bdrop (?:it|my \w+) off\b",
        r"\bget (?:my|the|our) (?:car|truck|suv|van|vehicle) (?:serviced|fixed|looked at|checked)\b",
    ],
    "test_drive": [
        r"\btest ?-?driv\w*|\btestdrive\w*",
        r"\btake (?:it|her|one|that|this|them) (?:out|for a (?:spin|drive|ride|test))\b",
        r"\bdrive (?:it|one|that one|this one|them)\b",
        r"\bsee (?:it|the car|the truck|the suv|them|one|that one|this one|the \w+) in person\b",
        r"\bcome (?:see|look at|check out|take a look at)\b|\blook at (?:it|the car|the truck) in person\b",
        r"\bcheck (?:it|them|that one) out\b|\bsee it (?:tomorrow|today|on|this|next|at)\b|\bcome (?:see|by) "
        r"(?:it|the)\b",
        r"\b(?:see|look at|check out) (?:that|this|the) (?:truck|car|suv|van|vehicle|one)\b(?=.{0,20}\b(?:today|"
        r"tomorrow|tonight|mon|tue|wed|thu|fri|sat|sun|morning|afternoon|evening|at \d|\d{1,2}(?::\d\d)? ?[ap]m))",
    ],
    "book_appointment": [
        r"\bbook (?:me|an|a|it|one|us)\b|\bschedule (?:me|an|a|it|one|us)\b|\bmake (?:an|a) (?:appointment|"
        r"reservation)\b|\bset (?:up|it up|me up) (?:a|an|for)?\b",
        r"\bwhat times?\b.{0,12}\b(?:do you have|have you got|are (?:open|available|free))\b|\bwhen are you "
        r"available\b",
        r"\bappointment\b|\breserve a (?:time|slot|spot)\b|\bavailable (?:times|slots)\b|\bany (?:openings|"
        r"availability|slots|times)\b|\bopenings?\b|\bwhen can i come\b|\bcome in\b|\bstop by\b|\bswing by\b",
    ],
    "trade_in": [
        r"\btrad(?:e|ing)[- ]?ins?\b|\btrade (?:my|it|our|in)\b|\btrading (?:my|it|in)\b",
        r"\bwhat(?:'s| is| would| will| could) my\b.{0,40}\bworth\b|\bworth\b.{0,15}\bmy\b",
        r"\bhow much (?:is|would you give|will you give|can i get|could i get|would i get|do you give|can you give)"
        r"(?: me)?(?: for)? my\b",
        r"\bvalue (?:of )?my\b|\bappraise\w*|\bappraisal\b|\bkbb\b|\bkelley blue book\b|\bblue book\b",
        r"\bsell (?:you )?my (?:car|truck|suv|van|vehicle|\d{4})\b|\bdo you (?:guys )?buy cars\b|\bbuy my\b",
        r"\bpayoff\b|\bi (?:still )?owe\b",
    ],
    "service_price": [
        r"\bhow much\b.{0,40}\b(?:oil|rotation|rotate|brakes?|pads|alignment|inspection|battery|tires?|diagnostic|"
        r"wipers?|filter|flush|coolant|transmission|service)\b",
        r"\b(?:price|cost|charge|prices|rate)s? (?:of|for|on) (?:an? |the )?(?:oil|tire|brake|alignment|inspection|"
        r"battery|diagnostic|synthetic|cabin|wiper|coolant)",
        r"\bservice (?:menu|prices|pricing|specials|coupons?|deals)\b|\b(?:oil change|coupon)s? (?:specials?|deals?)\b",
        r"\b(?:oil change|tire rotation|alignment|inspection|battery|brake job|diagnostic)\b.{0,25}\b(?:cost|price|"
        r"how much|charge)",
        r"\bcoupons?\b",
    ],
    "hot_lead": [
        r"\bready to (?:buy|purchase|sign|go|pull the trigger|make a deal|move forward|do this)\b",
        r"\b(?:buy|purchase) (?:it|one|this|that|the \w+)? ?(?:today|now|tonight|this week)\b",
        r"\bi(?:'ll| will|'d like to) (?:take|buy) it\b|\bout[- ]the[- ]door\b|\botd\b|\bbest price\b",
        r"\bhold (?:it|that|the|this|one)\b|\bput (?:it|that|this) on hold\b|\bdeposit\b|\breserve (?:it|that|"
        r"this|the)\b|\bpick (?:it )?up today\b|\bsign (?:today|the papers)\b|\bpaying cash\b|\bcash buyer\b",
    ],
    "financing": [
        r"\bfinanc\w*|\bloans?\b|\bleas(?:e|ing|es)\b|\bmonthly payments?\b|\bpayments?\b|\bdown ?payment\b|"
        r"\bput down\b|\bmoney down\b|\blenders?\b|\bcredit union\b|\bzero down\b|\b0 down\b|\bincentives?\b|"
        r"\brebates?\b|\bpre-?qualif\w*|\bbring my own (?:bank|lender)\b",
    ],
    # Store policies and amenities the dealer's documents answer (fees, returns, deposits, loaners,
    # shuttle, charging, languages, payment, warranty): answered from the documents, quoted.
    "faq": [
        r"\b(?:doc(?:ument(?:ation)?)?|dealer|admin(?:istrative)?|processing|hidden) fees?\b|\bany fees\b",
        r"\breturn (?:it|the car|a car|policy)\b|\brefund\b|\bmoney back\b|\bexchange (?:it|policy|the car)\b"
        r"|\bhate it\b|\bchange my mind\b",
        r"\bloaners?\b|\bloaner cars?\b|\bshuttle\b|\bride home\b|\bwaiting (?:room|area|lounge)\b|\bwi-?fi\b",
        r"\b(?:ev )?charg(?:ing|er|ers) (?:station|stations|there|port|ports)?\b.*\?|\bplug in\b",
        r"\b(?:hablan|habla|speak) (?:espa[nñ]ol|spanish)\b|\bspanish[- ]speaking\b",
        r"\bdeposit\b|\bhold (?:it|the car|the truck|one) for me\b",
        r"\b(?:do you |can i )?(?:take|accept) (?:credit cards?|checks?|cash|debit|venmo|zelle)\b",
        r"\bwarranty\b|\bhome delivery\b|\bdeliver (?:it|the car)\b",
    ],
    "hours": [
        r"^hours\b",
        r"\b(?:your|the|business|store|opening|service|sales|parts|weekend|holiday|operating|saturday|sunday|"
        r"showroom|dealership) hours\b|\bhours\b[?.!]*$|\bwhat are (?:the|your|ur) hours\b|\bhours of operation\b",
        r"\b(?:are|r) (?:you|y'all|u|they|yall|you guys) (?:guys )?(?:open|closed|around)\b",
        r"\bopen (?:today|tomorrow|on|sunday|saturday|monday|tuesday|wednesday|thursday|friday|late|now|right now|"
        r"till|until|at|this|tonight|on the weekend|weekends)\b",
        r"\bwhen (?:do|does|will|is) (?:you|service|sales|parts|the \w+)(?: guys| department)? (?:open|close)\b",
        r"\bwhat time (?:do|does|is|are|will) .{0,25}\b(?:open|close|closing|opening)\b|\bclosing time\b",
        r"\bclose[ds]? (?:on|today|tomorrow|at|for)\b|\bstill open\b|\bis (?:service|sales|parts|the \w+ "
        r"(?:department|dept)) open\b|\bhow late\b",
    ],
    "location": [
        r"\bwhere (?:are|r) (?:you|y'all|u|yall)\b|\bwhere (?:is|are) (?:the |your )?(?:dealership|store|shop|lot|"
        r"service|showroom|you guys)\b",
        r"\baddress\b|\blocated\b|\blocation\b|\bdirections?\b|\bhow (?:do|can|would|should) i get (?:there|to "
        r"you|to the dealership)\b|\bget there\b|\bfrom the airport\b|\bnear (?:me|you)\b|\bparking\b|\bwhat "
        r"city\b|\bhow far\b|\bwhich exit\b",
    ],
    "contact": [
        r"\bphone (?:number|#)\b|\byour number\b|\bnumber to call\b|\b(?:can|how do) i call you\b|\bwhat(?:'s| is) "
        r"(?:the|your) (?:number|phone|email|website)\b|(?<!from the )(?<!from your )(?<!on the )(?<!on your )"
        r"\bwebsite\b",
    ],
    "vehicle_question": [
        r"\b(?:what(?:'s| is| are)(?: the)?|how(?:'s| is)(?: the)?|what kind of|does it get good) (?:mpg|gas mileage|"
        r"fuel economy|miles per gallon)\b",
        r"\bhow many miles\b|\bwhat colou?r is\b|\bdoes (?:it|that one|this one|the \w+(?: one)?) (?:have|come "
        r"with|get)\b|\bis (?:it|that one|this one|the \w+ one) (?:still )?(?:available|there|for sale|awd|4wd|"
        r"a hybrid|certified|new|used)\b|\bstill (?:available|for sale|there|have it)\b|\bcarfax\b|\baccidents?\b"
        r"|\bwhat(?:'s| is) the (?:mileage|price|trim|color|mpg) (?:on|of)\b|\bhow much is (?:it|that one|this one|"
        r"the \w+ one)\b|\bpics?\b|\bpictures?\b|\bphotos?\b",
    ],
    "refine_search": [
        r"\bsimilar (?:ones?|cars?|trucks?|vehicles?|suvs?)\b|^similar\b|\blike (?:this|that) one\b",
        r"\bany (?:cheaper|newer|lower|less expensive|bigger|smaller|others|other ones|more)\b",
        r"\b(?:cheaper|newer|bigger|smaller|other) ones?\b|\binstead\b|\bwhat about\b|\banything (?:else|cheaper|"
        r"newer|bigger|smaller)\b|\bshow me (?:more|others|other|something)\b|\bother options\b|\bsomething "
        r"(?:cheaper|newer|bigger|smaller|else)\b|\b(?:different|another) colou?r\b|\bmore options\b",
    ],
    "inventory_search": [
        r"\bdo (?:you|y'all|u|yall) (?:guys )?(?:have|got|carry|sell|stock)\b|\bgot any\b|\bhave any\b|\bany\b.{0,40}"
        r"\b(?:for sale|in stock|available|on the lot)\b",
        r"\blooking (?:for|at)\b|\bin the market\b|\bshopping for\b|\bwant (?:to buy )?(?:a|an|some)\b|\bneed (?:a|an)"
        r" (?:new |used |bigger |reliable )?(?:car|truck|suv|van|vehicle|sedan|ride)\b",
        r"\bshow me\b|\binventory\b|\bin stock\b|\bfor sale\b|\bwhat (?:do you have|have you got|cars|trucks|suvs)\b"
        r"|\bcheapest\b|\bwhat(?:'s| is) the cheapest\b",
    ],
    "help": [
        r"^\W*(?:help|info)\W*$|\bwhat can you do\b|\bwhat can you help\b|\bhow does this work\b"
        r"|\bwhat are my options\b|^menu$"
    ],
    "smalltalk": [
        r"\bhow are (?:you|u|ya)\b|\bhow'?s (?:it going|your day)\b|\bwho are you\b|\bwhat(?:'s| is) your name\b",
        r"\bare you (?:a |an )?(?:bot|robot|ai|real|human|person|computer|machine)\b|\bis this (?:a )?(?:bot|real "
        r"person|automated|ai|robot)\b|\bam i (?:talking|texting|chatting) (?:to|with) (?:a )?(?:bot|robot|real)",
    ],
    "off_topic": [
        r"\bwrite (?:me )?(?:a |an |some )?(?:python|code|script|program|essay|poem|story|song|letter|function|"
        r"sql|haiku|joke)\b|\bcapital of\b|\bweather\b|\bwho won\b|\brecipe\b|\bhomework\b|\bsolve\b|\btell me a "
        r"joke\b|\btranslate\b|\bpresident\b|\bstock market\b|\bbitcoin\b|\bcrypto\b|\bmeaning of life\b|"
        r"\bhoroscope\b|\bjavascript\b|\bpython\b",
    ],
    "greet": [r"^(?:hi+|hello+|hey+|hiya|howdy|yo|sup|good (?:morning|afternoon|evening)|greetings|hola|heya)\b"],
    "thanks": [r"\b(?:thanks|thank you|thx|appreciate it|much appreciated|cheers)\b"],
    "bye": [
        r"^(?:ok(?:ay)? |thanks )?(?:bye|goodbye|good bye|see ya|see you|later|talk soon|ttyl|that's all|that is "
        r"all|have a good (?:one|day|night))\b|\b(?:bye|goodbye)[.!]*$"
    ],
    "affirm": [
        r"^(?:yes+|yeah|yep|yup|yea|ya|sure|ok|okay|sounds good|sounds great|do it|book it|perfect|great|correct|"
        r"that works|works for me|confirm(?:ed)?|absolutely|definitely|please do|go ahead|let's do it|let's do that|"
        r"y|yes please|that's right|right|of course|for sure|deal|please|that one works|lets do it|go for it|"
        r"sure thing|that's fine|fine|cool|awesome|alright)\b",
    ],
    "deny": [
        r"^(?:no+|nope|nah|not really|neither|none|no thanks|no thank you|don't|never ?mind|not that|not now|"
        r"wrong|that's wrong|nothing)\b",
    ],
}
RULES: dict[str, list[re.Pattern[str]]] = {k: [re.compile(p) for p in v] for k, v in _R.items()}

# Words that make "yes"/"no" more than a bare answer ("no, how about 11").
_SHORT = 6
_ANSWER_NOISE = {"book_appointment", "thanks", "greet"}  # "book it", "no thanks", "yes hi"


@dataclass
class Parse:
    raw: str
    norm: str
    intents: list[str]
    entities: Entities
    source: str = "rule"  # rule | entities | embedding | none
    score: float = 1.0
    flags: list[str] = field(default_factory=list)  # injection, profanity, ...

    @property
    def intent(self) -> str:
        return self.intents[0] if self.intents else "unknown"

    def has(self, *names: str) -> bool:
        return any(n in self.intents for n in names)


class ExampleIndex:
    """Example utterances embedded once per process; a query is one embedding and one matrix product."""

    def __init__(self, embedder: Any, data: dict[str, Any]) -> None:
        self.embedder = embedder
        self.threshold = float(data.get("threshold", 0.5))
        labels: list[str] = []
        texts: list[str] = []
        for intent, examples in (data.get("intents") or {}).items():
            for ex in examples:
                labels.append(intent)
                texts.append(normalize(str(ex)))
        self.labels = labels
        self.matrix = np.asarray(embedder.embed(texts), dtype=np.float32) if texts else np.zeros((0, 384))

    def nearest(self, text: str) -> tuple[str, float]:
        if not len(self.labels):
            return "unknown", 0.0
        q = np.asarray(self.embedder.embed_one(text), dtype=np.float32)
        sims = self.matrix @ q
        best: dict[str, float] = {}
        for label, score in zip(self.labels, sims.tolist(), strict=True):
            if score > best.get(label, -1.0):
                best[label] = score
        intent = max(best, key=lambda k: best[k])
        return intent, best[intent]


_INDEX: dict[str, ExampleIndex] = {}
_INDEX_LOCK = threading.Lock()


def example_index(embedder: Any | None = None) -> ExampleIndex | None:
    """The process-wide example index for the current intents file (None without an embedder)."""
    pf = prompts.load(INTENTS_FILE)
    hit = _INDEX.get(pf.sha)
    if hit is not None:
        return hit
    if embedder is None:
        try:
            from memory.embeddings import get_embedder

            embedder = get_embedder()
        except Exception:  # no model: rules and entities still work
            log.warning("offline brain: embeddings unavailable; intents from rules only", exc_info=True)
            return None
    with _INDEX_LOCK:
        if pf.sha not in _INDEX:
            _INDEX[pf.sha] = ExampleIndex(embedder, pf.data)
        return _INDEX[pf.sha]


def rule_intents(s: str) -> list[str]:
    """Every intent whose rules match, in PRIORITY order."""
    # A phrase that names one intent can hide another's keyword ("legally binding" is not legal talk).
    scrub = re.sub(r"\blegally binding\b|\bbinding\b", " ", s)
    found = []
    for name in PRIORITY:
        rules = RULES.get(name)
        if not rules:
            continue
        target = scrub if name in {"legal", "complaint"} else s
        if name == "complaint":
            target = re.sub(r"\b(?:bad|terrible|horrible|awful|poor) credit\b", " ", target)
        if any(r.search(target) for r in rules):
            found.append(name)
    return found


def _searchy(e: Entities) -> bool:
    c = e.criteria
    keys = set(c) - {"features"}
    return bool(keys) or bool(e.text_hint) or bool(c.get("features") and not e.deictic)


def classify(
    raw: str,
    matcher: Matcher,
    *,
    service_kinds: list[str] | None = None,
    expecting_name: bool = False,
    use_embeddings: bool = True,
) -> Parse:
    s = normalize(raw)
    ents = extract(raw, matcher, service_kinds=service_kinds, norm=s)
    intents = rule_intents(s)
    if (
        expecting_name
        and not ents.name
        and not set(intents) - {"affirm", "greet", "thanks"}
        and not (_searchy(ents) or ents.service_kind or ents.has_time or ents.ordinal)
    ):
        ents.name = extract_name(raw, expecting=True)  # a bare "Maria Lopez" answers "what name?"
    flags = []
    if "injection" in intents:
        flags.append("injection")
    words = len(s.split())

    # Bare yes/no only when the message is short: "no, how about 11" keeps its other intents too.
    for name in ("affirm", "deny"):
        if name in intents and words > _SHORT:
            intents.remove(name)
    # "book it", "no thanks", "yes please": a short answer is just the answer.
    for name in ("deny", "affirm"):
        if name in intents and words <= 3 and not ents.has_time and set(intents) <= {name, *_ANSWER_NOISE}:
            intents = [name]
            break
    # "is this a real person?" asks what we are; it is not a request for one.
    if (
        "smalltalk" in intents
        and "human" in intents
        and not re.search(r"\b(?:talk|speak|chat|want|need|get|connect|transfer|call|give)\b", s)
    ):
        intents.remove("human")
    if "greet" in intents and len(intents) > 1:
        intents.remove("greet")
        intents.append("greet")
    # Entity-driven intents no single rule names.
    if ents.service_kind and not intents and not _searchy(ents):
        intents.append("book_service")
    elif ents.service_kind and "book_appointment" in intents:
        intents[intents.index("book_appointment")] = "book_service"
    elif ents.service_kind and ents.has_time and not intents_include_any(intents, "service_price", "book_service"):
        intents.insert(0, "book_service")
    # "can I bring my truck in for an appraisal" is a sales visit (a trade appraisal), not a service one.
    if "book_service" in intents and not ents.service_kind and re.search(r"\bapprais\w*|\btrade\b", s):
        intents[intents.index("book_service")] = "book_appointment"
    if ents.trade_in and "trade_in" not in intents and (ents.trade_in.get("model") or "payoff" in ents.trade_in):
        intents.append("trade_in")
    if "credit" in intents and "financing" not in intents:
        intents.append("financing")
    if _searchy(ents) and not intents_include_any(
        intents, "inventory_search", "refine_search", "vehicle_question", "trade_in", "book_service", "service_price"
    ):
        intents.append("inventory_search")
    if ents.has_time and not intents and not ents.ordinal:
        intents.append("book_appointment")  # "saturday afternoon" on its own is a time to come in
    if (ents.stock or ents.vin) and not intents:
        intents.append("vehicle_question")
    if ents.offer and "negotiation" not in intents:
        intents.insert(0, "negotiation")
    if (ents.name or ents.phone or ents.email) and not intents:
        intents.append("provide_info")
    intents = sorted(dict.fromkeys(intents), key=lambda n: PRIORITY.index(n) if n in PRIORITY else 99)
    if "injection" in intents and len(intents) > 1:
        intents.remove("injection")  # answer the rest; the injected words change nothing
    parse = Parse(raw=raw, norm=s, intents=intents, entities=ents, source="rule" if intents else "none", flags=flags)
    if use_embeddings:
        apply_examples(parse)
    return parse


def apply_examples(parse: Parse) -> Parse:
    """When no rule named an intent, take the nearest example utterance's (one embedding, only then)."""
    if parse.intents or parse.source != "none" or not parse.norm:
        return parse
    index = example_index()
    parse.source = "embedding"
    if index is None:
        parse.score = 0.0
        return parse
    label, sim = index.nearest(parse.norm)
    parse.score = round(sim, 3)
    if sim >= index.threshold:
        parse.intents = [label]
    return parse


def intents_include_any(intents: list[str], *names: str) -> bool:
    return any(n in intents for n in names)
