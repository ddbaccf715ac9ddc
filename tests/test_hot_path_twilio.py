"""The Twilio channel's inbound shortcuts: its own signature check and the cached
normalisation must accept and give exactly what twilio's `RequestValidator` and
phone-number parsing afresh do."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

import channels.twilio as twilio_module
from channels.base import WebRequest
from channels.twilio import ADDRESS_CACHE_SIZE, URL_CACHE_SIZE, TwilioChannel

TOKEN = "c0ffee" * 5 + "ab"
PATH = "/webhooks/twilio/sms"
PUBLICS = ["https://withus.example", "https://withus.example:8443", "http://withus.example:80",
           "https://withus.example/prefix", "https://withus.example:443"]  # fmt: skip

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_forms = st.dictionaries(_text, _text, max_size=6)


def channel(public: str) -> TwilioChannel:
    return TwilioChannel("sms", "AC" + "1" * 32, TOKEN, public, from_number="+447700900001")


def request(form: dict[str, str], signature: str | None,
            query: dict[str, str] | None = None) -> WebRequest:
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return WebRequest("POST", PATH, headers, urlencode(form).encode(), form, query or {})


def reference(public: str, form: dict[str, str], signature: str,
              query: dict[str, str] | None = None) -> bool:
    url = public.rstrip("/") + PATH + ("?" + urlencode(query) if query else "")
    return bool(RequestValidator(TOKEN).validate(url, dict(form), signature))


@settings(max_examples=300, deadline=None)
@given(
    public=st.sampled_from(PUBLICS),
    signed_as=st.sampled_from(PUBLICS + ["https://other.example"]),
    form=_forms,
    query=st.one_of(st.none(), st.dictionaries(_text, _text, max_size=2)),
    tamper=st.sampled_from(["none", "field", "signature", "token", "junk"]),
    junk=st.text(max_size=40),
)
def test_verify_accepts_exactly_what_twilios_validator_accepts(
    public: str, signed_as: str, form: dict[str, str], query: dict[str, str] | None,
    tamper: str, junk: str,
) -> None:
    token = TOKEN if tamper != "token" else TOKEN[::-1]
    url = signed_as + PATH + ("?" + urlencode(query) if query else "")
    signature = RequestValidator(token).compute_signature(url, form)
    sent = dict(form)
    if tamper == "field":
        sent["Body"] = sent.get("Body", "") + "x"
    elif tamper == "signature":
        signature = signature[:-2] + ("A=" if signature[-2:] != "A=" else "B=")
    elif tamper == "junk":
        signature = junk
    expected = bool(signature) and reference(public, sent, signature, query)
    assert channel(public).verify(request(sent, signature, query)) is expected


def test_verify_with_and_without_the_port() -> None:
    form = {"MessageSid": "SM" + "a" * 32, "From": "+447700900123", "Body": "1"}
    for signed_as in ("https://withus.example", "https://withus.example:443"):
        signature = RequestValidator(TOKEN).compute_signature(signed_as + PATH, form)
        for public in ("https://withus.example", "https://withus.example:443"):
            assert channel(public).verify(request(form, signature))
        for public in ("https://withus.example:8443", "http://withus.example"):
            assert channel(public).verify(request(form, signature)) is reference(
                public, form, signature)
        assert not channel("https://other.example").verify(request(form, signature))
    assert not channel(PUBLICS[0]).verify(request(form, None))
    assert not channel(PUBLICS[0]).verify(request(form, ""))
    assert not channel(PUBLICS[0]).verify(request(form, "é" * 28))


ADDRESSES = [
    "+447700900123", "07700 900123", "whatsapp:+447700900123", "07700900124", "72404",
    "WithUs", " +44 (0)7700 900125 ", "+12025550123", "not a number", "", "+1", "0",
    "whatsapp:07700 900126", "+44 7700 900123 ext. 5",
]  # fmt: skip


def test_cached_normalisation_equals_computing_afresh() -> None:
    uncached = twilio_module._normalise.__wrapped__
    for region in ("GB", "US"):
        sms = TwilioChannel("sms", "AC" + "1" * 32, TOKEN, PUBLICS[0],
                            from_number="+447700900001", default_region=region)
        for _ in range(2):  # the second time from the cache
            for address in ADDRESSES:
                assert sms.normalise_address(address) == uncached(address, region)
    # The region is part of the key: one number, two regions, two answers.
    gb = TwilioChannel("sms", "AC" + "1" * 32, TOKEN, PUBLICS[0], from_number="+1")
    us = TwilioChannel("sms", "AC" + "1" * 32, TOKEN, PUBLICS[0], from_number="+1",
                       default_region="US")
    assert gb.normalise_address("07700 900123") == "+447700900123"
    assert us.normalise_address("202 555 0123") == "+12025550123"
    assert gb.normalise_address("202 555 0123") != "+12025550123"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=24))
def test_cached_normalisation_equals_computing_afresh_for_any_text(address: str) -> None:
    sms = channel(PUBLICS[0])
    assert sms.normalise_address(address) == twilio_module._normalise.__wrapped__(address, "GB")


def test_the_caches_are_bounded() -> None:
    sms = channel(PUBLICS[0])
    for n in range(ADDRESS_CACHE_SIZE + 10):
        sms.normalise_address(f"+4477009{n:05d}")
    assert twilio_module._normalise.cache_info().currsize <= ADDRESS_CACHE_SIZE
    for n in range(URL_CACHE_SIZE + 10):
        sms.verify(request({}, "x", {"n": str(n)}))
    assert twilio_module._signed_urls.cache_info().currsize <= URL_CACHE_SIZE
