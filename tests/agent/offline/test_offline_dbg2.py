import time, cProfile, pstats
from conftest import Chat  # type: ignore
from tools.inventory import inventory_vocabulary

async def test_dbg(runtime):
    chat = Chat(runtime, "chat")
    t0=time.perf_counter(); await inventory_vocabulary(runtime.deps(None,"chat")); print("\nvocab warm", (time.perf_counter()-t0)*1000)
    lines = ["hi", "any used tacomas under 35k?", "the silver one", "how many miles on it", "can I test drive it thursday morning", "the 2nd", "yes",
             "are you open sunday", "how do I get there from the airport", "do you finance", "how much is an oil change", "talk to a person", "blah blah", "what's my 2016 accord worth"]
    for line in lines:
        t0=time.perf_counter()
        pr = cProfile.Profile(); pr.enable()
        out = await chat.say(line)
        pr.disable()
        ms=(time.perf_counter()-t0)*1000
        print(f"{ms:7.1f} ms  {line}")
        if ms > 30:
            st = pstats.Stats(pr); st.sort_stats("cumulative"); st.print_stats(12)
