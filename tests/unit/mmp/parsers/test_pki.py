"""``pki inspect`` and ``pki list``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.errors import StatusParseError
from reconciler.mmp.models import PkiObjectKind
from reconciler.mmp.parsers import parse_pki_inspect, parse_pki_list

PREAMBLE = """\
Checking ssh public keys...not found
Checking user configured certificates and keys...found
File contains a PEM encoded certificate
"""
DUMP = """\
Certificate:
  Data:
    Version: 3 (0x2)
    Serial Number:
      11:02:ce:3b:00:06:00:00:00:a7
    Signature Algorithm: sha1WithRSAEncryption
    Issuer: DC=com, DC=uctplab, CN=uctplab-TPWIN2008R2DC-CA
    Validity:
      Not Before: Mar  9 08:47:17 2015 GMT
      Not After : Mar  9 08:57:17 2017 GMT
    Subject: C=IN, ST=KA, L=BLR, O=Siigo, OU=AC, CN=VCScMRA.S.com
    Subject Public Key Info:
      Public Key Algorithm: rsaEncryption
      Public-Key: (4096 bit)
"""
OUTPUT = PREAMBLE + DUMP


def test_fields() -> None:
    inspect = parse_pki_inspect("cms2> pki inspect EXPRSVR.cer\r\n" + OUTPUT.replace("\n", "\r\n"))
    assert inspect.file == "EXPRSVR.cer"
    assert inspect.kind is PkiObjectKind.CERTIFICATE
    cert = inspect.certificate
    assert cert is not None
    assert cert.serial == 0x1102CE3B0006000000A7
    assert cert.not_before == datetime(2015, 3, 9, 8, 47, 17, tzinfo=UTC)
    assert cert.not_after == datetime(2017, 3, 9, 8, 57, 17, tzinfo=UTC)
    assert cert.not_after.utcoffset() is not None
    assert cert.key_size == 4096
    assert cert.subject.endswith("CN=VCScMRA.S.com")


def test_rest_of_the_openssl_dump_is_skipped() -> None:
    more = (
        "      Modulus:\n        00:c3\n      Exponent: 65537 (0x10001)\n"
        "    X509v3 extensions:\n      X509v3 Subject Key Identifier:\n        AB:CD\n"
        "  Signature Algorithm: sha1WithRSAEncryption\n  Signature Value:\n    5e:21\n"
    )
    assert parse_pki_inspect(OUTPUT + more) == parse_pki_inspect(OUTPUT)


def test_openssl_spacing_and_inline_serial() -> None:
    text = OUTPUT.replace(
        "Serial Number:\n      11:02:ce:3b:00:06:00:00:00:a7", "Serial Number: 10 (0xa)"
    )
    text = text.replace("Validity:", "Validity").replace("Public-Key:", "RSA Public-Key:")
    cert = parse_pki_inspect(text).certificate
    assert cert is not None
    assert (cert.serial, cert.serial_text, cert.key_size) == (10, "10 (0xa)", 4096)


@pytest.mark.parametrize(
    ("contents", "kind"),
    [
        ("a PEM encoded RSA private key", PkiObjectKind.PRIVATE_KEY),
        ("a PEM encoded certificate request", PkiObjectKind.CERTIFICATE_REQUEST),
        ("a PEM encoded public key", PkiObjectKind.PUBLIC_KEY),
        ("something new", PkiObjectKind.UNKNOWN),
    ],
)
def test_other_kinds_have_no_certificate(contents: str, kind: PkiObjectKind) -> None:
    text = PREAMBLE.replace("a PEM encoded certificate", contents) + "Private-Key: (2048 bit)\n"
    inspect = parse_pki_inspect(text)
    assert (inspect.kind, inspect.certificate, inspect.contents) == (kind, None, contents)


@pytest.mark.parametrize(
    ("old", "new", "quoted"),
    [
        ("Checking ssh public keys...not found", "Checking ssh public keys...maybe", None),
        ("Checking ssh public keys...not found\n", "Welcome!\n", "Welcome!"),
        ("File contains a PEM encoded certificate\n", "", None),
        ("Certificate:\n", "", "File contains a PEM encoded certificate"),
        ("Mar  9 08:47:17 2015 GMT", "2015-03-09 08:47:17", None),
        ("Mar  9 08:47:17 2015 GMT", "Mar 32 08:47:17 2015 GMT", None),
        ("Mar  9 08:47:17 2015 GMT", "Mrz  9 08:47:17 2015 GMT", None),
        ("      11:02:ce:3b:00:06:00:00:00:a7\n", "      eleven\n", "      eleven"),
        ("    Issuer: DC=com, DC=uctplab, CN=uctplab-TPWIN2008R2DC-CA\n", "", "Certificate:"),
        ("    Subject: C=IN", "    Subject: C=XX\n    Subject: C=IN", None),
        (
            "    Signature Algorithm: sha1WithRSAEncryption",
            "    Signature Algorithm: md5\n    Signature Algorithm: sha1WithRSAEncryption",
            None,
        ),
    ],
)
def test_refused(old: str, new: str, quoted: str | None) -> None:
    assert old in OUTPUT
    with pytest.raises(StatusParseError) as caught:
        parse_pki_inspect(OUTPUT.replace(old, new))
    assert caught.value.line is not None
    if quoted is not None:
        assert caught.value.line == quoted


def test_second_certificate_refused() -> None:
    with pytest.raises(StatusParseError, match="more than one certificate"):
        parse_pki_inspect(OUTPUT + DUMP)


def test_output_of_another_command_refused() -> None:
    with pytest.raises(StatusParseError, match="expected the output of 'pki inspect'"):
        parse_pki_inspect("cms1> pki list\n" + OUTPUT)


def test_pki_list_collects_file_names() -> None:
    text = (
        "cms1> pki list\n"
        "User supplied certificates and keys:\n"
        "  dbclusterserver.key   dbclusterserver.cer\n"
        "  'CAVD.cer', cms.lic\n"
        "Version 3.5 on 10.0.0.1\n"
        "  dbclusterserver.key\n"
        "cms1> "
    )
    assert parse_pki_list(text).files == (
        "dbclusterserver.key",
        "dbclusterserver.cer",
        "CAVD.cer",
        "cms.lic",
    )


def test_pki_list_refuses_errors() -> None:
    with pytest.raises(StatusParseError, match="refused"):
        parse_pki_list("cms1> pki list\nERROR: something\n")
