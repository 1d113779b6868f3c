"""Webhook URL safety and the generic signature, as the API and the notifier apply them."""

from __future__ import annotations

import base64
import ipaddress
import json

import pytest

from secmonkey.common import webhooks
from secmonkey.common.errors import InvalidInput


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("https://169.254.169.254/latest/meta-data/", "instance-metadata"),
        ("http://169.254.169.254/latest/meta-data/", "https"),
        ("https://[fd00:ec2::254]/", "instance-metadata"),
        ("https://metadata.google.internal/computeMetadata/v1/", "instance-metadata"),
        ("https://169.254.10.1/hook", "link-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://[::]/hook", "unspecified"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://172.20.0.1/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://100.64.0.1/hook", "private"),
        ("https://[fd12:3456::1]/hook", "private"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://192.0.2.10/hook", "reserved"),
        ("http://hooks.example.com/x", "must use https"),
        ("ftp://hooks.example.com/x", "must use https"),
        ("hooks.example.com/x", "must use https"),
        ("https:///nohost", "no host"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("", "required"),
    ],
)
def test_refused_targets_say_why(url: str, fragment: str) -> None:
    """An admin aiming a subscription at the metadata service or an internal host gets a clear refusal."""
    with pytest.raises(InvalidInput) as info:
        webhooks.validate_webhook_url(url, resolve=False)
    assert fragment in str(info.value)


def test_public_https_literal_is_accepted() -> None:
    webhooks.validate_webhook_url("https://93.184.215.14:8443/hook?x=1")
    webhooks.validate_webhook_url("https://[2606:4700::1111]/hook")


def test_allow_private_opens_loopback_and_private_but_never_metadata_or_link_local() -> None:
    for url in ("http://127.0.0.1:8080/h", "http://10.0.0.5/h", "http://localhost:9000/h"):
        webhooks.validate_webhook_url(url, allow_http=True, allow_private=True, resolve=False)
    for url in ("http://169.254.169.254/", "http://169.254.1.1/", "http://0.0.0.0/"):
        with pytest.raises(InvalidInput):
            webhooks.validate_webhook_url(url, allow_http=True, allow_private=True, resolve=False)


def test_a_name_resolving_to_loopback_is_refused() -> None:
    """`localhost.` style names and anything that resolves inward are refused after lookup."""
    with pytest.raises(InvalidInput, match="loopback"):
        webhooks.check_addresses(
            "evil.example", ["93.184.215.14", "127.0.0.1"], allow_private=False
        )
    webhooks.check_addresses("ok.example", ["93.184.215.14"], allow_private=False)


def test_unresolvable_host_is_refused_when_resolving() -> None:
    with pytest.raises(InvalidInput, match="does not resolve"):
        webhooks.validate_webhook_url("https://no-such-host.invalid/hook")


@pytest.mark.parametrize(
    "address",
    ["::ffff:169.254.169.254", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe"],
)
def test_ipv4_embedded_in_ipv6_is_checked_as_ipv4(address: str) -> None:
    reason = webhooks.refused_address_reason(ipaddress.ip_address(address), allow_private=True)
    assert reason is not None and "169.254.169.254" in reason


def test_redact_url_keeps_only_scheme_and_host() -> None:
    redacted = webhooks.redact_url("https://hooks.slack.com/services/T000/B000/XXXXSECRET")
    assert redacted == "https://hooks.slack.com/…"
    assert "SECRET" not in redacted


def test_signature_verifies_with_the_secret_and_fails_with_another() -> None:
    body = b'{"id":"e1"}'
    header = webhooks.sign("s3cret", body, timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    webhooks.verify("s3cret", header, body, now=1_700_000_010)
    with pytest.raises(InvalidInput, match="does not match"):
        webhooks.verify("other", header, body, now=1_700_000_010)
    with pytest.raises(InvalidInput, match="does not match"):
        webhooks.verify("s3cret", header, body + b" ", now=1_700_000_010)


def test_signature_refuses_replays_and_malformed_headers() -> None:
    body = b"{}"
    header = webhooks.sign("s3cret", body, timestamp=1_700_000_000)
    with pytest.raises(InvalidInput, match="tolerance"):
        webhooks.verify("s3cret", header, body, now=1_700_000_000 + 301)
    for bad in ("", "v1=abc", "t=x,v1=abc", "t=1700000000"):
        with pytest.raises(InvalidInput):
            webhooks.verify("s3cret", bad, body, now=1_700_000_000)


def test_signature_matches_the_documented_recipe() -> None:
    """What services/notifier/README.md tells receivers to compute."""
    import hashlib
    import hmac

    body = b'{"specversion":"1.0"}'
    header = webhooks.sign("k", body, timestamp=42)
    expected = hmac.new(b"k", b"42." + body, hashlib.sha256).hexdigest()
    assert header == f"t=42,v1={expected}"


# The example of the Standard Webhooks specification (secret, id, timestamp, body, signature).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standard_signature_matches_the_specification_example() -> None:
    assert webhooks.standard_signature(SPEC_SECRET, SPEC_ID, 1614265330, SPEC_BODY) == (
        SPEC_SIGNATURE
    )


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        (SPEC_SECRET, base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
        ("whsec_c2VjcmV0LWtleQ", b"secret-key"),  # unpadded base64 is accepted, as libraries do
        ("whsec-test-3f9a1c", b"whsec-test-3f9a1c"),  # an older secret: its own bytes
        ("whsec_not base64!", b"whsec_not base64!"),  # not base64: its own bytes
        ("whsec_", b"whsec_"),
        ("s3cret-älter", "s3cret-älter".encode()),
    ],
)
def test_standard_key_decodes_whsec_secrets_and_keeps_every_other_secret_as_bytes(
    secret: str, key: bytes
) -> None:
    """Existing subscriptions keep their secrets; new ones may paste a `whsec_` secret."""
    assert webhooks.standard_key(secret) == key
    assert webhooks.standard_secret(secret) == "whsec_" + base64.b64encode(key).decode()


def test_signature_headers_share_one_timestamp_and_carry_the_id() -> None:
    body = b'{"id":"e1"}'
    headers = webhooks.signature_headers("s3cret-key", "e1", body, timestamp=1_700_000_000)
    assert headers["webhook-id"] == "e1" and headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"] == webhooks.standard_signature(
        "s3cret-key", "e1", 1_700_000_000, body
    )
    webhooks.verify("s3cret-key", headers["X-Secmonkey-Signature"], body, now=1_700_000_000)
    assert headers["X-Secmonkey-Signature"].startswith("t=1700000000,")


@pytest.mark.parametrize("secret", [SPEC_SECRET, "a-secret-of-any-shape-16+"])
def test_a_stock_standard_webhooks_library_verifies_the_headers(secret: str) -> None:
    """A receiver using the `standardwebhooks` package, configured as the README says."""
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    body = b'{"specversion":"1.0","id":"e1"}'
    headers = webhooks.signature_headers(secret, "e1", body)
    assert Webhook(webhooks.standard_secret(secret)).verify(body, headers) == json.loads(body)
    assert Webhook(webhooks.standard_key(secret)).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.standard_secret("another-secret-16+")).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.standard_secret(secret)).verify(body + b" ", headers)
