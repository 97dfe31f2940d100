"""A login that asks for a new password is said as such, whatever words the node uses, and
nothing is typed into it (an answer would be taken as the new password)."""

from __future__ import annotations

import pytest

from reconciler.errors import NotAnMMP, PasswordExpired
from reconciler.mmp.session import MMPShell
from reconciler.simulator.choices import say
from tests.unit.mmp.test_session import FakeClock, ScriptedChannel

EXPIRED = (
    "cms2: the MMP password for admin on cms2 has expired: log in once by hand and change it, "
    "then update $CMS_PROD_PASSWORD"
)


def shell(channel: ScriptedChannel, clock: FakeClock, **kwargs: object) -> MMPShell:
    return MMPShell(channel, "cms2", clock=clock, command_timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "greeting",
    [
        # The simulator's choice (the MMP's words are not published).
        say("login.password_expired").replace("\n", "\r\n"),
        # OpenSSH with PAM (Linux), after password login on an expired account.
        "WARNING: Your password has expired.\r\nYou must change your password now and login "
        "again!\r\nChanging password for admin.\r\nCurrent password: ",
        "You are required to change your password immediately (administrator enforced)\r\n"
        "Changing password for admin.\r\n(current) UNIX password: ",
        "Password expired. Change your password now.\r\nNew password: ",
        "Welcome\r\nEnter new password: ",
        "Your password has expired\r\nPlease choose a new password: ",
    ],
)
def test_an_expired_password_is_said_with_the_clusters_variable(greeting: str) -> None:
    clock = FakeClock()
    channel = ScriptedChannel(clock, greeting=greeting)
    mmp = shell(channel, clock, username="admin", password_env="CMS_PROD_PASSWORD")
    with pytest.raises(PasswordExpired) as raised:
        mmp.run("database cluster status")
    assert str(raised.value).startswith(EXPIRED)
    assert "ssh_port" not in str(raised.value)
    assert channel.sent == []  # not one keystroke
    assert clock.now < 5  # said once the node is quiet, not after the 30 s prompt timeout
    assert mmp.login_refused
    with pytest.raises(PasswordExpired):  # and never tried again
        mmp.run("database cluster status")
    assert channel.sent == []


def test_a_node_that_closes_after_saying_so_is_an_expired_password_too() -> None:
    clock = FakeClock()
    greeting = "WARNING: Your password has expired.\r\nPassword change required but no TTY."
    channel = ScriptedChannel(clock, greeting=greeting)
    channel.pending.append("<EOF>")
    with pytest.raises(PasswordExpired, match=r"then update \$CMS_PROD_PASSWORD"):
        shell(channel, clock, username="admin", password_env="CMS_PROD_PASSWORD").start()


def test_with_a_key_login_the_message_names_no_variable() -> None:
    clock = FakeClock()
    channel = ScriptedChannel(clock, greeting="Password expired\r\nNew password: ")
    with pytest.raises(PasswordExpired) as raised:
        shell(channel, clock, username="admin").start()
    assert "the MMP password for admin on cms2 has expired" in str(raised.value)
    assert "$" not in str(raised.value)


@pytest.mark.parametrize(
    "greeting",
    [
        "Your password will expire in 5 days\r\ncms2> ",  # a warning, then the prompt
        "Last login: yesterday\r\ncms2> ",
    ],
)
def test_a_warning_before_the_prompt_is_no_refusal(greeting: str) -> None:
    clock = FakeClock()
    channel = ScriptedChannel(clock, greeting=greeting)
    mmp = shell(channel, clock, username="admin", password_env="CMS_PROD_PASSWORD")
    mmp.start()
    assert not mmp.login_refused


def test_silence_without_those_words_is_still_no_mmp_prompt() -> None:
    clock = FakeClock()
    channel = ScriptedChannel(clock, greeting="Welcome to something\r\n")
    with pytest.raises(NotAnMMP, match="no MMP prompt"):
        shell(channel, clock, username="admin", password_env="CMS_PROD_PASSWORD").start()
