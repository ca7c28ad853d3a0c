import logging
from conftest import Chat  # type: ignore
import agent.offline.brain as b

async def test_dbg(runtime, caplog):
    chat = Chat(runtime, "chat")
    for line in ["what's my 2016 accord worth", "how much is an oil change"]:
        try:
            await chat.say(line)
        except AssertionError:
            pass
    for r in caplog.records:
        if r.exc_info:
            import traceback; traceback.print_exception(*r.exc_info)
