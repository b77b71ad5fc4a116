"""What each `papo` command does, given parsed arguments and Settings: get the parts, run, format the output."""

from papo.commands.chat import chat
from papo.commands.demo_conversation import conversation_demo
from papo.commands.owner import reset_owner, setup_code
from papo.commands.privacy import export, forget_all, forget_status, forget_turn
from papo.commands.records import history, memory_forget, memory_list, reminders_list
from papo.commands.system import (
    audio_devices,
    audio_test,
    config_show,
    models_list,
    models_provision,
    models_verify,
    run,
)
from papo.commands.talk import ReplyOptions, demo, listen, say

__all__ = [
    "ReplyOptions", "audio_devices", "audio_test", "chat", "config_show", "conversation_demo", "demo", "export",
    "forget_all", "forget_status", "forget_turn", "history", "listen", "memory_forget", "memory_list", "models_list",
    "models_provision", "models_verify", "reminders_list", "reset_owner", "run", "say", "setup_code",
]  # fmt: skip
