from conftest import Chat  # type: ignore

async def test_dbg(runtime):
    chat = Chat(runtime, "chat")
    for line in ["test drive thursday morning", "the first", "no", "10:30 works", "yep"]:
        out = await chat.say(line)
        print(f"\n>>> {line}\n[{out.intent}] {out.reply.text}\n   pending={chat.dialogue.get('pending',{}).get('type')} {out.usage}")
