"""No data can name a reader's slot: what stands for each reader's address, name and token
until a message is composed can never come from an advisory, a feed or a name."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from support.mail import both, headers_and_parts
from support.models import HEAD, RENDERER, advisory, reader
from support.project import VE, Project, config_text, messages, parse

from advisory.domain.models import Format
from advisory.domain.text import INTERNAL
from advisory.publishers.us_state import advisories as us_state_advisories

SLOTS = "\ue000\ue001\ue002\ufdd0\ufdd1\ufdd2\U000f0000\ufffe"
TRAP = "https://evil.example/c?" + "&".join(f"p{i}={c}" for i, c in enumerate(SLOTS))
STRIPPED = "https://evil.example/c?" + "&".join(f"p{i}=" for i in range(len(SLOTS)))
SECRET = {"ADVISORY_TOKEN_SECRET": "a-secret-of-32-characters-000000"}


def test_an_advisory_cannot_put_each_readers_address_and_token_into_its_link(
    project: Project,
) -> None:
    project.advisory("ve", VE.replace("Foreigners risk", f"See {TRAP} now. Foreigners risk"))
    project.write_config(
        config_text(sender_extra='unsubscribe = "https://example.org/u?t={token}"')
        .replace('name = "Ana Pérez"', f'name = "Ana {SLOTS} Pérez"')
    )  # fmt: skip
    result = project.run("send", env=SECRET)
    assert result.returncode == 0, result.stderr
    box = messages(project.outbox)
    assert len(box) == 4
    trapped = 0  # the text parts that carry the advisory's link
    for msg in box:
        address = msg["To"].addresses[0].addr_spec
        assert msg["To"].addresses[0].display_name in ("Ana Pérez", "Ben Okafor", "Duty pager")
        token = str(msg["List-Unsubscribe"]).removeprefix("<https://example.org/u?t=")[:22]
        for part in msg.walk():
            if part.get_content_maintype() != "text":
                continue
            content = part.get_content()
            assert not INTERNAL.search(content)
            if "evil.example" in content:
                trapped += 1
                trap = content[content.find("evil.example") :][:200]
                assert address not in trap and token not in trap
                if part.get_content_subtype() == "plain":
                    assert STRIPPED in content.replace("\n", "")
    assert trapped == 3  # Ana's text and HTML parts, Ben's text (the pager's alert has none)


def test_a_feed_item_is_stripped_of_them_too() -> None:
    xml_trap = TRAP.replace("&", "&amp;").replace("\ufffe", "")  # XML cannot hold U+FFFE
    feed = f"""<rss><channel><item>
        <title>Venezuela - Level 4: Do Not Travel</title>
        <link>https://travel.state.gov/destination.ven.html</link>
        <category domain="Threat-Level">Level 4: Do Not Travel</category>
        <pubDate>Tue, 24 Nov 2026 00:00:00 GMT</pubDate>
        <description>Do not travel to Venezuela. {xml_trap}</description>
    </item></channel></rss>"""
    [item] = us_state_advisories(feed)
    assert STRIPPED in item.details
    assert not any(INTERNAL.search(text) for text in (item.title, item.summary, item.details))


TEXT = st.lists(
    st.one_of(st.characters(exclude_categories=("Cs", "Cc")), st.sampled_from(list(SLOTS))),
    min_size=1, max_size=80,
).map("".join)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(title=TEXT, details=TEXT, name=TEXT, fmt=st.sampled_from(Format))
def test_any_text_in_a_message_is_only_text(
    title: str, details: str, name: str, fmt: Format
) -> None:
    try:
        sub = reader(fmt, name=name)
        item = advisory(title=title, details=details)
    except ValidationError:
        assume(False)
        raise
    fast, slow = both(sub, lambda s: RENDERER.render(item, s, HEAD))
    head, parts = headers_and_parts(parse(fast.data))
    assert (head, parts) == headers_and_parts(parse(slow.data))
    benign = headers_and_parts(
        parse(both(sub, lambda s: RENDERER.render(advisory(), s, HEAD))[0].data)
    )
    token = HEAD.token(sub.key)
    for (_, content), (_, usual) in zip(parts, benign[1], strict=True):
        assert not INTERNAL.search(content)
        assert content.count(token) == usual.count(token)  # the footer's, and no other
        assert content.count(sub.email) == usual.count(sub.email)
