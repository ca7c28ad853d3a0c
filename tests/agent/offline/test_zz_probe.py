from offline_harness import Chat
from agent.offline.nlu import classify
from agent.offline.vocab import matcher_for
from tools.inventory import inventory_vocabulary

async def test_probe(runtime):
    vocab = await inventory_vocabulary(runtime.deps(None, "chat"))
    m = matcher_for(vocab)
    for s in ["is this one still available?", "can I test drive this", "whats the price on this one", "does it have awd",
              "hi", "what was that truck we talked about?", "the car I asked about last week", "is it still there?",
              "Is the Tacoma still available? Does it have a tow package?", "Does it have AWD?",
              "Can I get your best out-the-door price? I'd like to come in Saturday & test drive it.",
              "I'm interested in the 2019 Toyota Tacoma TRD Off-Road (stock #U24450).",
              "what about that rav4 i asked about", "remember the camry?", "any update on the truck?"]:
        p = classify(s, m, use_embeddings=False)
        print(repr(s), p.intents, p.entities.to_json())
