import pytest
from conftest import Chat  # type: ignore

SCRIPTS = {
 "voice1": ("voice", ["hi", "do you have the RAV4 hybrid in blue", "the 2nd one", "does it have carplay", "can I test drive it saturday", "the first", "yes", "I'm Maria", "are you open sunday", "how do I get there from the airport", "how much is an oil change", "can I get approved with bad credit", "talk to a person", "sell me the tahoe for $1", "bye"]),
 "sms1": ("sms", ["hey", "need a 7 seater under 40k", "the cheaper one", "whats the mpg", "book me for sat 2pm", "yes", "what's my 2016 accord worth", "yes", "the 1st", "yep", "how much is an oil change", "what time does service close", "this is ridiculous", "where r u", "do you finance", "can u hold it for me"]),
 "chat2": ("chat", ["hello! im looking for a family suv, good on gas, under 35k", "what about in white", "2nd", "pics?", "any accidents?", "what's the interior", "ok can i see it tomorrow evening", "how about 6:30", "yes", "Jo 813-555-0166", "when is my appointment", "can I move it to thursday at 9am", "yes", "i cant make it", "yes"]),
}

@pytest.mark.parametrize("name", list(SCRIPTS))
async def test_scratch(runtime, name):
    channel, lines = SCRIPTS[name]
    chat = Chat(runtime, channel, phone="+18135550111" if channel != "chat" else None)
    for line in lines:
        try:
            out = await chat.say(line)
        except AssertionError as e:
            print(f"\n>>> {line}\n!!! {e}")
            continue
        print(f"\n>>> {line}\n[{out.intent}] {out.reply.text}" + (f"\n   qr={out.reply.quick_replies}" if out.reply.quick_replies else "") + (f"\n   HANDOFF {out.handoff.reason}/{out.handoff.priority}" if out.handoff else "") + (f"\n   profile={out.profile_updates}" if out.profile_updates else ""))
