"""``pki inspect`` and ``pki list``.

``pki inspect`` prints a strict preamble (``Checking ...found|not found``,
``File contains ...``) and then an OpenSSL ``x509 -text``-like dump. The
preamble must be exactly understood; in the dump only the fields the planner
needs are read (and refused if malformed or repeated), while the rest of the
dump (modulus, extensions, signature bytes) is OpenSSL's and is skipped.

``pki list`` output was never published; its parser only collects tokens that
look like file names and refuses outputs that are errors.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from reconciler.mmp.models import CertificateDetails, PkiInspect, PkiList, PkiLookup, PkiObjectKind
from reconciler.mmp.parsers.common import Line, echoed_command, output_lines
from reconciler.mmp.parsers.errors import raise_if_rejected

_INSPECT = "pki inspect"
_LOOKUP_RE = re.compile(r"^Checking (?P<where>.+?)\.\.\.\s*(?P<result>found|not found)$")
_CONTAINS_RE = re.compile(r"^File contains (?P<what>\S.*)$")
_CERTIFICATE_RE = re.compile(r"^Certificate:$")

_VERSION_RE = re.compile(r"^Version:\s*(?P<v>\d+)\s*\(0x[0-9a-fA-F]+\)$")
_SERIAL_RE = re.compile(r"^Serial Number:\s*(?P<inline>.*)$")
_SERIAL_DECIMAL_RE = re.compile(r"^(?P<dec>\d+)\s*\(0x(?P<hex>[0-9a-fA-F]+)\)$")
_SERIAL_HEX_RE = re.compile(r"^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2})*$")
_SIGNATURE_RE = re.compile(r"^Signature Algorithm:\s*(?P<v>\S.*)$")
_ISSUER_RE = re.compile(r"^Issuer:\s*(?P<v>.*)$")
_SUBJECT_RE = re.compile(r"^Subject:\s*(?P<v>.*)$")
_NOT_BEFORE_RE = re.compile(r"^Not Before\s*:\s*(?P<v>.*)$")
_NOT_AFTER_RE = re.compile(r"^Not After\s*:\s*(?P<v>.*)$")
_KEY_ALGORITHM_RE = re.compile(r"^Public Key Algorithm:\s*(?P<v>\S.*)$")
_KEY_SIZE_RE = re.compile(r"^(?:RSA |EC )?Public-Key:\s*\((?P<v>\d+) bit\)$")

_DATE_RE = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+"
    r"(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})\s+(?P<y>\d{4})\s+GMT$"
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}

_FILE_TOKEN_RE = re.compile(r"^[\w.+-]*\w\.[A-Za-z][A-Za-z0-9]{0,9}$")
_TOKEN_PUNCTUATION = "'\",;()[]<>"


def parse_pki_inspect(text: str) -> PkiInspect:
    """Parse the output of ``pki inspect <file>``.

    Raises:
        StatusParseError: an unknown preamble line, no ``File contains`` line, or a
            certificate dump lacking (or repeating, or mangling) a required field.
    """
    lines = [line for line in output_lines(text, command=_INSPECT, what=_INSPECT) if not line.blank]
    lookups: list[PkiLookup] = []
    contents: Line | None = None
    for line in lines:
        lookup = _LOOKUP_RE.match(line.text.strip())
        if lookup is not None:
            found = lookup.group("result") == "found"
            lookups.append(PkiLookup(where=lookup.group("where"), found=found))
        elif _CONTAINS_RE.match(line.text.strip()):
            contents = line
            break
        else:
            raise line.error(f"{_INSPECT}: line not understood")
    if contents is None:
        raise lines[-1].error(f"{_INSPECT}: no 'File contains' line")
    what = contents.text.strip().removeprefix("File contains ")
    kind = _kind(what)
    body = [line for line in lines if line.number > contents.number]
    certificate = None
    if kind is PkiObjectKind.CERTIFICATE:
        if not body or not _CERTIFICATE_RE.match(body[0].text.strip()):
            raise contents.error(f"{_INSPECT}: certificate dump missing")
        certificate = _parse_certificate(body)

    echoed = (echoed_command(text) or "").split()
    return PkiInspect(
        file=" ".join(echoed[2:]) or None,
        lookups=tuple(lookups),
        contents=what,
        kind=kind,
        certificate=certificate,
    )


def _kind(contents: str) -> PkiObjectKind:
    words = contents.lower()
    if "certificate request" in words or "csr" in words.split():
        return PkiObjectKind.CERTIFICATE_REQUEST
    if "certificate" in words:
        return PkiObjectKind.CERTIFICATE
    if "private key" in words:
        return PkiObjectKind.PRIVATE_KEY
    if "public key" in words:
        return PkiObjectKind.PUBLIC_KEY
    return PkiObjectKind.UNKNOWN


_SINGLE_FIELDS = {
    "version": _VERSION_RE,
    "issuer": _ISSUER_RE,
    "subject": _SUBJECT_RE,
    "not_before": _NOT_BEFORE_RE,
    "not_after": _NOT_AFTER_RE,
    "public_key_algorithm": _KEY_ALGORITHM_RE,
    "key_size": _KEY_SIZE_RE,
}
_REQUIRED_FIELDS = ("issuer", "subject", "not_before", "not_after")


def _parse_certificate(body: list[Line]) -> CertificateDetails:
    """Read the planner's fields from the dump; the first line is ``Certificate:``."""
    fields = _CertificateFields()
    for line in body[1:]:
        fields.read(line)
    serial = fields.complete(body[0])
    found = fields.found
    return CertificateDetails(
        version=_optional_int(found, "version"),
        serial=_parse_serial(*serial),
        serial_text=serial[1],
        signature_algorithm=fields.signature,
        issuer=found["issuer"][1],
        subject=found["subject"][1],
        not_before=_parse_date(*found["not_before"]),
        not_after=_parse_date(*found["not_after"]),
        public_key_algorithm=found["public_key_algorithm"][1]
        if "public_key_algorithm" in found
        else None,
        key_size=_optional_int(found, "key_size"),
    )


class _CertificateFields:
    """The dump's fields read so far, each refused when repeated (or, for the signature
    algorithm, when its two copies disagree)."""

    def __init__(self) -> None:
        self.found: dict[str, tuple[Line, str]] = {}
        self.signature: str | None = None
        self.serial: tuple[Line, str] | None = None
        self.pending_serial: Line | None = None  # ``Serial Number:`` with its value below

    def read(self, line: Line) -> None:
        stripped = line.text.strip()
        if self.pending_serial is not None:
            self.serial, self.pending_serial = (line, stripped), None
            return
        if _CERTIFICATE_RE.match(stripped):
            raise line.error(f"{_INSPECT}: more than one certificate in the output")
        if (match := _SERIAL_RE.match(stripped)) is not None:
            self._read_serial(line, match.group("inline").strip())
        elif (match := _SIGNATURE_RE.match(stripped)) is not None:
            self._read_signature(line, match.group("v"))
        else:
            self._read_single(line, stripped)

    def _read_serial(self, line: Line, inline: str) -> None:
        if self.serial is not None:
            raise line.error(f"{_INSPECT}: second serial number")
        if inline:
            self.serial = (line, inline)
        else:
            self.pending_serial = line

    def _read_signature(self, line: Line, algorithm: str) -> None:
        # OpenSSL prints the algorithm twice (in Data and before the signature).
        if self.signature is not None and algorithm != self.signature:
            raise line.error(f"{_INSPECT}: conflicting signature algorithms")
        self.signature = algorithm

    def _read_single(self, line: Line, stripped: str) -> None:
        for key, regex in _SINGLE_FIELDS.items():
            if (match := regex.match(stripped)) is not None:
                if key in self.found:
                    raise line.error(f"{_INSPECT}: second {key.replace('_', ' ')} line")
                self.found[key] = (line, match.group("v").strip())
                return

    def complete(self, first: Line) -> tuple[Line, str]:
        """The serial, once the dump is read; raises when a required field is missing."""
        if self.pending_serial is not None:
            raise self.pending_serial.error(f"{_INSPECT}: serial number value missing")
        for key in _REQUIRED_FIELDS:
            if key not in self.found:
                raise first.error(f"{_INSPECT}: certificate dump lacks {key.replace('_', ' ')}")
        if self.serial is None:
            raise first.error(f"{_INSPECT}: certificate dump lacks serial number")
        return self.serial


def _optional_int(found: dict[str, tuple[Line, str]], key: str) -> int | None:
    return int(found[key][1]) if key in found else None


def _parse_serial(line: Line, value: str) -> int:
    if _SERIAL_HEX_RE.match(value):
        return int(value.replace(":", ""), 16)
    decimal = _SERIAL_DECIMAL_RE.match(value)
    if decimal is not None and int(decimal.group("dec")) == int(decimal.group("hex"), 16):
        return int(decimal.group("dec"))
    raise line.error(f"{_INSPECT}: serial number not understood")


def _parse_date(line: Line, value: str) -> datetime:
    """``Mar  9 08:47:17 2015 GMT`` -> aware UTC datetime (no locale-dependent strptime)."""
    match = _DATE_RE.match(value)
    if match is None or match.group("mon") not in _MONTHS:
        raise line.error(f"{_INSPECT}: date not understood")
    try:
        return datetime(
            int(match.group("y")),
            _MONTHS[match.group("mon")],
            int(match.group("day")),
            int(match.group("h")),
            int(match.group("m")),
            int(match.group("s")),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise line.error(f"{_INSPECT}: date not understood") from exc


def parse_pki_list(text: str) -> PkiList:
    """File names in ``pki list`` output: tokens like ``name.ext``; headings ending ``:`` skipped.

    The format is not documented, so this is deliberately loose; callers must
    not conclude from absence alone that a file does not exist without SFTP.
    """
    raise_if_rejected(text, "pki list")
    files: dict[str, None] = {}
    for line in output_lines(text, command="pki list", what="pki list"):
        if line.blank or line.text.endswith(":"):
            continue
        for raw in line.text.split():
            token = raw.strip(_TOKEN_PUNCTUATION)
            if _FILE_TOKEN_RE.match(token):
                files.setdefault(token)
    return PkiList(files=tuple(files))
