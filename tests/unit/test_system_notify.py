"""sd_notify messages: what is sent, when READY=1 comes, and that nothing is sent outside systemd."""

from __future__ import annotations

import os

from papo.service import PipelineState, PipelineStatus
from papo.system.notify import Notifier, watchdog_interval
from papo.system.startup import MODEL_LOAD_BUDGET_S, StartupReport, describe
from support.notify_socket import NotifySocket
from support.wait import wait_until


class Sent:
    """A notifier's `send`, keeping the messages."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, message: str) -> None:
        self.messages.append(message)


def _status(state: PipelineState, **values: object) -> PipelineStatus:
    status = PipelineStatus(state=state)
    for key, value in values.items():
        setattr(status, key, value)
    return status


def test_outside_systemd_nothing_is_sent_and_nothing_fails() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.enabled
    notifier.status("loading")
    notifier.ready("listening")
    notifier.alive()
    notifier.stopping()


def test_under_systemd_the_messages_reach_the_notify_socket_through_systemd_python() -> None:
    with NotifySocket() as manager:
        notifier = Notifier.from_environment(manager.env)
        os.environ["NOTIFY_SOCKET"] = manager.env["NOTIFY_SOCKET"]  # systemd.daemon.notify reads it at each call
        try:
            assert notifier.enabled
            notifier.status("loading the speech models")
            notifier.extend_timeout(90)
            notifier.ready("listening on\nmic")
            notifier.alive()
            notifier.stopping()
            wait_until(lambda: len(manager.messages()) == 5, 5, "five messages")
        finally:
            del os.environ["NOTIFY_SOCKET"]
    assert [m.assignments for m in manager.messages()] == [
        {"STATUS": "loading the speech models"},
        {"EXTEND_TIMEOUT_USEC": "90000000"},
        {"READY": "1", "STATUS": "listening on mic"},  # one line: a newline would start another assignment
        {"WATCHDOG": "1"},
        {"STOPPING": "1", "STATUS": "stopping"},
    ]


def test_the_watchdog_interval_is_half_of_watchdog_usec_and_only_for_this_process() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, pid=42) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "41"}, pid=42) is None
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


def test_start_up_says_each_stage_asks_for_time_while_models_load_and_is_ready_once_listening() -> None:
    sent = Sent()
    report = StartupReport(Notifier(sent))
    report.stage("opening the store")
    report.pipeline(_status(PipelineState.LOADING_MODELS))
    assert not report.ready
    report.pipeline(_status(PipelineState.LISTENING, device="Papo test microphone"))
    report.pipeline(_status(PipelineState.LISTENING, device="Papo test microphone"))  # said once
    report.pipeline(_status(PipelineState.NO_AUDIO_INPUT, detail="no audio input device", retry_in_s=2.0))
    report.stopping()
    assert sent.messages == [
        "STATUS=opening the store",
        f"EXTEND_TIMEOUT_USEC={int(MODEL_LOAD_BUDGET_S * 1_000_000)}",
        "STATUS=loading the speech models",
        "READY=1\nSTATUS=listening on Papo test microphone",
        "STATUS=no microphone (no audio input device); trying again in 2 s",
        "STOPPING=1\nSTATUS=stopping",
    ]


def test_a_missing_microphone_or_a_failed_pipeline_ends_the_start_up_too() -> None:
    for settled in (
        _status(PipelineState.NO_AUDIO_INPUT, detail="no audio input device", retry_in_s=1.0),
        _status(PipelineState.FAILED, detail="the speech model is missing"),
    ):
        sent = Sent()
        report = StartupReport(Notifier(sent))
        report.pipeline(_status(PipelineState.LOADING_MODELS))
        report.pipeline(settled)
        assert report.ready
        assert sent.messages[-1] == f"READY=1\nSTATUS={describe(settled)}"
    assert describe(_status(PipelineState.FAILED, detail="the speech model is missing")) == (
        "voice pipeline failed: the speech model is missing"
    )
