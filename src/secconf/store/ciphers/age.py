"""The `age` cipher: a random data key per store, age-encrypted to its recipients.

Settings (`store: file:`): `encryption: age` and `recipients:`, each an age public key
(`age1…`), an SSH public key (`ssh-ed25519`, `ssh-rsa`, as age accepts them) or the name
of a group of `recipients.yaml` at the root of the config repository
(`groups: {ops: ["age1…", …]}`), so that the team list lives in one reviewed file.

Header (in file order, all covered by the store's MAC, whose key derives from the data
key): `recipients`, each public key and the group it came from, so a reviewer sees in
the git diff who can decrypt; `data_key`, the 32-byte data key as one age ciphertext
with one stanza per recipient (base64 of the binary age file: `base64 -d | age -d -i
IDENTITY` gives the key back); `removed`, who was removed and when, which is what
audit's exposure report reads.

Identities (private keys) come from, in order, `SECCONF_AGE_IDENTITY` (an identity
file's content, for CI), `SECCONF_AGE_IDENTITY_FILE` (a path), then
`~/.config/secconf/age/identities.txt` (mode 0600): age identities, one a line, or an
OpenSSH private key. Never from argv. Their content is registered with the redaction.

`pyrage` is imported only when a store of this cipher is opened or written: this module
is imported by every command that lists ciphers, `validate` on a master-key config too.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

from secconf.core.errors import InputError, StoreError
from secconf.core.record import After, Field
from secconf.environment.settings import SettingsModel
from secconf.store.ciphers import Cipher, Sealing
from secconf.store.format import DataKey, StoreFile, integrity

if TYPE_CHECKING:
    from secconf.store.registry import StoreContext

NAME = "age"
IDENTITY_VAR = "SECCONF_AGE_IDENTITY"
IDENTITY_FILE_VAR = "SECCONF_AGE_IDENTITY_FILE"
DEFAULT_IDENTITIES = "~/.config/secconf/age/identities.txt"
RECIPIENTS_FILE = "recipients.yaml"
MAX_RECIPIENTS = 256  # per store, and per group
MAX_GROUPS = 256
MAX_REMOVED = 1024  # removal records a store keeps (the oldest go first)
MAX_IDENTITY_BYTES = 1 << 20
MAX_RECIPIENTS_FILE_BYTES = 1 << 20
_MAX_DATA_KEY_CHARS = 1 << 20  # base64 of the age file: a few hundred bytes per stanza
_AGE_MAGIC = b"age-encryption.org/v1\n"

COMMENT = (
    "# secconf encrypted store: the generated keys of one environment.\n"
    "# Safe to commit: only the recipients listed below can decrypt it (age).\n"
    "# Change it only with `secconf keys` and `secconf store`: any hand edit\n"
    "# fails its integrity check.\n"
)

_AGE_KEY = r"age1[02-9ac-hj-np-z]{58}"
_SSH_KEY = r"(ssh-ed25519|ssh-rsa) ([A-Za-z0-9+/]{20,16384}={0,2})"
_GROUP = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
_DATE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def _recipient_syntax(value: str) -> str:
    if len(value) > 20000 or _kind(value) is None:
        raise ValueError(
            f"{value[:40]!r} is not an age recipient (age1…), an SSH public key "
            "(ssh-ed25519 / ssh-rsa) or a group name of recipients.yaml"
        )
    return value


def _kind(value: str) -> str | None:
    """`key` (a public key), `group`, or None when it is neither."""
    if re.fullmatch(_AGE_KEY, value) or re.match(_SSH_KEY + r"( [^\n]{0,200})?\Z", value):
        return "key"
    if re.fullmatch(_GROUP, value) and not value.startswith(("age1", "ssh-")):
        return "group"
    return None


RecipientName = Annotated[str, After(_recipient_syntax)]


class AgeSettings(SettingsModel):
    """`recipients:` of a file store with `encryption: age`."""

    recipients: list[RecipientName] = Field(default_factory=list, max_length=MAX_RECIPIENTS)


class Recipient(NamedTuple):
    """One public key that can decrypt a store, and the group it came from (None: named
    directly in the environment's `recipients:`)."""

    key: str
    group: str | None

    def as_dict(self) -> dict[str, str]:
        """The header's (and audit's) form."""
        out = {"recipient": self.key}
        if self.group is not None:
            out["group"] = self.group
        return out


def public_key(value: str) -> str:
    """A recipient as the header names it: an SSH key without its comment."""
    found = re.match(_SSH_KEY, value)
    return f"{found.group(1)} {found.group(2)}" if found else value


# ---- recipients ------------------------------------------------------------------------


def resolve(names: Sequence[str], root: Path) -> tuple[Recipient, ...]:
    """The public keys `names` stand for, groups expanded from `recipients.yaml`, each
    once (the first group that names it)."""
    groups: dict[str, list[str]] | None = None
    out: dict[str, Recipient] = {}
    for name in names:
        if _kind(name) == "key":
            out.setdefault(public_key(name), Recipient(public_key(name), None))
            continue
        if groups is None:
            groups = load_groups(root)
        if name not in groups:
            known = ", ".join(sorted(groups)) or "none"
            raise InputError(
                f"recipient group {name!r} is not defined in {RECIPIENTS_FILE}",
                hint=f"define it under `groups:` there (groups defined: {known})",
            )
        for key in groups[name]:
            out.setdefault(public_key(key), Recipient(public_key(key), name))
    if len(out) > MAX_RECIPIENTS:
        raise InputError(f"more than {MAX_RECIPIENTS} recipients for one store")
    return tuple(out.values())


def load_groups(root: Path) -> dict[str, list[str]]:
    """`groups:` of `recipients.yaml` (empty when there is no such file), every member
    checked to be a public key."""
    from secconf.core.yamlio import parse_document

    path = root / RECIPIENTS_FILE
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RECIPIENTS_FILE_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InputError(f"cannot read {RECIPIENTS_FILE}: {type(exc).__name__}") from None
    if len(data) > MAX_RECIPIENTS_FILE_BYTES:
        raise InputError(f"{RECIPIENTS_FILE} is over {MAX_RECIPIENTS_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{RECIPIENTS_FILE} is not UTF-8", file=RECIPIENTS_FILE) from None
    document = parse_document(text, RECIPIENTS_FILE).data if text.strip() else {}
    groups = document.get("groups") if isinstance(document, dict) else None
    if not isinstance(groups, dict) or set(document) != {"groups"}:
        raise InputError(
            f"{RECIPIENTS_FILE} must be a mapping with one key, `groups:`",
            file=RECIPIENTS_FILE,
            hint='e.g. `groups: {ops: ["age1…", "ssh-ed25519 AAAA… alice@laptop"]}`',
        )
    if len(groups) > MAX_GROUPS:
        raise InputError(f"{RECIPIENTS_FILE} defines more than {MAX_GROUPS} groups")
    return {str(name): _members(name, members) for name, members in groups.items()}


def _members(name: Any, members: Any) -> list[str]:
    if not isinstance(name, str) or not re.fullmatch(_GROUP, name):
        raise InputError(f"{RECIPIENTS_FILE}: {str(name)[:40]!r} is not a group name")
    if not isinstance(members, list) or len(members) > MAX_RECIPIENTS:
        raise InputError(
            f"{RECIPIENTS_FILE}: group {name} must be a list of at most {MAX_RECIPIENTS} "
            "public keys"
        )
    for member in members:
        if not isinstance(member, str) or _kind(member) != "key":
            shown = str(member)[:40]
            raise InputError(
                f"{RECIPIENTS_FILE}: group {name} holds {shown!r}, which is not an age "
                "public key (age1…) or an SSH public key (ssh-ed25519 / ssh-rsa)",
                hint="a group lists public keys; groups do not nest",
            )
    return list(members)


def _age_recipients(recipients: Sequence[Recipient]) -> list[Any]:
    """pyrage's recipient objects; a key age refuses is a clear InputError."""
    import pyrage

    out: list[Any] = []
    for recipient in recipients:
        key = recipient.key
        try:
            if key.startswith("age1"):
                out.append(pyrage.x25519.Recipient.from_str(key))
            else:
                out.append(pyrage.ssh.Recipient.from_str(key))
        except (pyrage.RecipientError, ValueError):
            shown = key if len(key) <= 60 else key[:57] + "..."
            where = f" (group {recipient.group})" if recipient.group else ""
            raise InputError(
                f"the recipient {shown}{where} is not a public key age accepts",
                hint="copy the public key again (`age-keygen -y`, or the .pub of an SSH key)",
            ) from None
    return out


# ---- identities ------------------------------------------------------------------------


class Identities(NamedTuple):
    """The identities found, where they came from, and every place looked in."""

    found: list[Any]
    source: str | None
    looked: tuple[str, ...]


def looked_in() -> tuple[str, ...]:
    """Where identities are looked for, in order."""
    return (f"${IDENTITY_VAR}", f"${IDENTITY_FILE_VAR}", DEFAULT_IDENTITIES)


def default_identities_path(environ: Mapping[str, str]) -> Path:
    """`~/.config/secconf/age/identities.txt` of the user running secconf."""
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".config" / "secconf" / "age" / "identities.txt"


def find_identities(environ: Mapping[str, str]) -> Identities:
    """The identities of the first source that holds any, in the documented order."""
    looked = looked_in()
    content = environ.get(IDENTITY_VAR)
    if content:
        return Identities(parse_identities(content, f"${IDENTITY_VAR}"), f"${IDENTITY_VAR}", looked)
    path_text = environ.get(IDENTITY_FILE_VAR)
    if path_text:
        path = Path(path_text).expanduser()
        text = _read_identity_file(path, f"${IDENTITY_FILE_VAR} ({path})", check_mode=False)
        if text is None:
            raise StoreError(
                f"${IDENTITY_FILE_VAR} names {path}, which does not exist",
                hint="point it at an age identity file, or unset it",
            )
        source = f"${IDENTITY_FILE_VAR}"
        return Identities(parse_identities(text, source), source, looked)
    path = default_identities_path(environ)
    text = _read_identity_file(path, DEFAULT_IDENTITIES, check_mode=True)
    if text is None:
        return Identities([], None, looked)
    return Identities(parse_identities(text, DEFAULT_IDENTITIES), DEFAULT_IDENTITIES, looked)


def _read_identity_file(path: Path, shown: str, *, check_mode: bool) -> str | None:
    import stat

    try:
        with path.open("rb") as handle:
            if check_mode and stat.S_IMODE(os.fstat(handle.fileno()).st_mode) & 0o077:
                raise StoreError(
                    f"{shown} can be read by other users",
                    hint=f"run `chmod 600 {path}`: it holds private keys",
                )
            data = handle.read(MAX_IDENTITY_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the age identities {shown}: {type(exc).__name__}") from None
    if len(data) > MAX_IDENTITY_BYTES:
        raise StoreError(f"{shown} is larger than any identity file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise StoreError(f"{shown} is not an age identity file (not UTF-8)") from None


_PEM = r"(?s)-----BEGIN OPENSSH PRIVATE KEY-----.*?-----END OPENSSH PRIVATE KEY-----\n?"


def parse_identities(text: str, shown: str) -> list[Any]:
    """Every identity in an identity file's text: age secret keys, one a line (`#`
    comments), and OpenSSH private keys. Registered with the redaction first."""
    import pyrage

    from secconf.core import redact

    redact.register_credential(text)
    found: list[Any] = []
    for block in re.findall(_PEM, text):
        redact.register_credential(block.strip())
        try:
            found.append(pyrage.ssh.Identity.from_buffer(block.encode("ascii")))
        except (pyrage.IdentityError, ValueError, UnicodeEncodeError):
            raise StoreError(
                f"{shown} holds an SSH private key that age cannot use",
                hint="only unencrypted ed25519 and RSA OpenSSH keys can be used",
            ) from None
    for number, line in enumerate(re.sub(_PEM, "", text).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        redact.register_credential(line)
        try:
            found.append(pyrage.x25519.Identity.from_str(line))
        except (pyrage.IdentityError, ValueError):
            raise StoreError(
                f"{shown}: line {number} is not an age identity (AGE-SECRET-KEY-1…)",
                hint="an identity file holds `age-keygen` output or an OpenSSH private key",
            ) from None
    return found


def new_identity() -> tuple[str, str]:
    """A fresh age identity: (its file content, its public key)."""
    import pyrage

    from secconf.core import redact

    identity = pyrage.x25519.Identity.generate()
    secret = str(identity)
    redact.register_credential(secret)
    public = str(identity.to_public())
    return f"# public key: {public}\n{secret}\n", public


# ---- the header ------------------------------------------------------------------------


def header_recipients(header: Mapping[str, Any]) -> tuple[Recipient, ...]:
    """The recipients a (checked) header names."""
    return tuple(Recipient(r["recipient"], r.get("group")) for r in header["recipients"])


def removals(header: Mapping[str, Any]) -> list[dict[str, str]]:
    """The removal records of a (checked) header: recipient, group, removed_at."""
    return [dict(r) for r in header["removed"]]


def _stanza_count(data_key: str) -> int | None:
    """The recipient stanzas of the age file (grease left out); None when it is none."""
    try:
        raw = base64.b64decode(data_key, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_AGE_MAGIC):
        return None
    end = raw.find(b"\n--- ")
    if end < 0:
        return None
    lines = raw[len(_AGE_MAGIC) : end].split(b"\n")
    stanzas = [line.split(b" ") for line in lines if line.startswith(b"-> ")]
    return sum(1 for s in stanzas if len(s) > 1 and not s[1].endswith(b"-grease"))


def _check(header: Mapping[str, Any]) -> str | None:
    recipients = header.get("recipients")
    if not isinstance(recipients, list) or not 0 < len(recipients) <= MAX_RECIPIENTS:
        return "its recipients are not a list of public keys"
    keys = []
    for item in recipients:
        if not isinstance(item, dict) or not _is_record(item, ("recipient", "group")):
            return "its recipients are not a list of public keys"
        keys.append(item["recipient"])
    if len(set(keys)) != len(keys):
        return "it names a recipient twice"
    data_key = header.get("data_key")
    if not isinstance(data_key, str) or len(data_key) > _MAX_DATA_KEY_CHARS:
        return "its data key is not an age ciphertext"
    if _stanza_count(data_key) != len(recipients):
        return "its data key is not encrypted to exactly the recipients it names"
    removed = header.get("removed")
    if not isinstance(removed, list) or len(removed) > MAX_REMOVED:
        return "its removal records are malformed"
    for item in removed:
        if not isinstance(item, dict) or not _is_record(item, ("recipient", "group", "removed_at")):
            return "its removal records are malformed"
    return None


def _is_record(item: dict[str, Any], fields: tuple[str, ...]) -> bool:
    given = tuple(item)
    expected = fields if "group" in item else tuple(f for f in fields if f != "group")
    if given != expected or not all(isinstance(v, str) for v in item.values()):
        return False
    key = item["recipient"]
    if _kind(key) != "key" or public_key(key) != key:
        return False
    if "group" in item and not re.fullmatch(_GROUP, item["group"]):
        return False
    return "removed_at" not in item or bool(re.fullmatch(_DATE, item["removed_at"]))


# ---- the keyring -----------------------------------------------------------------------


class AgeKeyring:
    """The age cipher for one environment's store: its configured recipients, and the
    identities of the person or job running secconf (looked for when first needed)."""

    def __init__(
        self,
        environment: str,
        recipients: Sequence[Recipient],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.environment = environment
        self.recipients = tuple(recipients)
        self._environ = environ
        self._identities: Identities | None = None

    @property
    def cipher(self) -> Cipher:
        """The age cipher."""
        return CIPHER

    def identities(self) -> Identities:
        """The identities available to this process (found once)."""
        if self._identities is None:
            environ = os.environ if self._environ is None else self._environ
            self._identities = find_identities(environ)
        return self._identities

    def require(self, creating: bool) -> None:
        """A new store needs valid recipients; an existing one an identity to open it."""
        import pyrage

        recipients = _age_recipients(self._configured()) if creating else []
        found = self.identities().found
        if not found:
            raise self._not_a_recipient(None)
        if creating:
            # Whoever creates a store must be able to open it for the writes that follow.
            try:
                pyrage.decrypt(pyrage.encrypt(b"probe", recipients), found)
            except pyrage.DecryptError:
                raise self._not_a_recipient(None) from None

    def open(self, header: Mapping[str, Any], location: str) -> DataKey:
        """The data key, decrypted with one of this process's identities."""
        import pyrage

        identities = self.identities()
        if not identities.found:
            raise self._not_a_recipient(header)
        try:
            material = pyrage.decrypt(base64.b64decode(header["data_key"]), identities.found)
        except pyrage.DecryptError as exc:
            if "no matching keys" in str(exc).lower():
                raise self._not_a_recipient(header) from None
            # One of ours, but its age header or payload was changed.
            raise integrity(f"{location}: its data key does not decrypt") from None
        if len(material) != 32:
            raise integrity(f"{location}: its data key is not 32 bytes")
        return DataKey(material)

    def new(self) -> Sealing:
        """A new data key, encrypted to the configured recipients."""
        key = DataKey(os.urandom(32))
        return Sealing(self._header(self._configured(), key, []), key)

    def rewrap(self, header: Mapping[str, Any], key: DataKey) -> Sealing:
        """The header for the configured recipients: the same when nothing changed; the
        same data key for recipients added; a new data key (every value re-sealed) and a
        removal record for each one removed."""
        configured = self._configured()
        before = header_recipients(header)
        if before == configured:
            return Sealing(dict(header), key)
        now_keys = {r.key for r in configured}
        gone = [r for r in before if r.key not in now_keys]
        records = removals(header)
        if not gone:
            if {r.key for r in before} == now_keys:  # only the groups changed
                return Sealing({**header, "recipients": [r.as_dict() for r in configured]}, key)
            return Sealing(self._header(configured, key, records), key)
        from secconf.store.base import utc_now

        now = utc_now()
        records += [{**r.as_dict(), "removed_at": now} for r in gone]
        fresh = DataKey(os.urandom(32))
        return Sealing(self._header(configured, fresh, records[-MAX_REMOVED:]), fresh)

    def changes(self, header: Mapping[str, Any]) -> tuple[list[Recipient], list[Recipient]]:
        """(added, removed) recipients of the configured set against a header's."""
        before = header_recipients(header)
        configured = self._configured()
        was, now = {r.key for r in before}, {r.key for r in configured}
        return [r for r in configured if r.key not in was], [r for r in before if r.key not in now]

    def _configured(self) -> tuple[Recipient, ...]:
        if not self.recipients:
            raise InputError(
                f"environment {self.environment} uses `encryption: age` but names no recipients",
                hint="list public keys or groups of recipients.yaml under `store: file: "
                "recipients:`",
            )
        return self.recipients

    def _header(
        self, recipients: Sequence[Recipient], key: DataKey, removed: list[dict[str, str]]
    ) -> dict[str, Any]:
        import pyrage

        sealed = pyrage.encrypt(key.material, _age_recipients(recipients))
        return {
            "recipients": [r.as_dict() for r in recipients],
            "data_key": base64.b64encode(sealed).decode("ascii"),
            "removed": removed,
        }

    def _not_a_recipient(self, header: Mapping[str, Any] | None) -> StoreError:
        named = header_recipients(header) if header is not None else self.recipients
        listed = ", ".join(_short(r) for r in named) or "none"
        identities = self.identities()
        where = ", ".join(identities.looked)
        found = (
            f"the identities from {identities.source} are not among them"
            if identities.source
            else "none was found"
        )
        return StoreError(
            f"you are not a recipient of {self.environment}'s store; its recipients are: "
            f"{listed}; identities were looked for in {where}: {found}",
            hint="ask a recipient to add your public key and run `secconf store recipients "
            f"sync --env {self.environment}`",
        )


def _short(recipient: Recipient) -> str:
    key = recipient.key
    shown = key if len(key) <= 70 else key[:40] + "…" + key[-12:]
    return f"{shown} ({recipient.group})" if recipient.group else shown


def configured_recipients(context: StoreContext) -> tuple[Recipient, ...]:
    """The environment's `recipients:`, groups resolved from `recipients.yaml`."""
    from secconf.store.backends.file import file_settings

    names = getattr(file_settings(context.environment), "recipients", [])
    return resolve(names, context.root)


def _keyring(context: StoreContext) -> AgeKeyring:
    return AgeKeyring(context.environment.name, configured_recipients(context), context.environ)


CIPHER = Cipher(
    name=NAME,
    summary="a data key per store, age-encrypted to recipients (age or SSH public keys, "
    "groups of recipients.yaml)",
    fields=("recipients", "data_key", "removed"),
    check=_check,
    keyring=_keyring,
    comment=COMMENT,
    settings=AgeSettings,
)


def sealed_header(file: StoreFile | None, location: str) -> Mapping[str, Any] | None:
    """The age header of a store file read with `FileStore.peek` (no key needed), checked
    as when the store is opened; None when there is no file or it is not an age store."""
    if file is None or file.encryption != NAME:
        return None
    if tuple(file.header) != CIPHER.fields:
        raise integrity(f"{location} does not have the fields of a store file")
    problem = _check(file.header)
    if problem is not None:
        raise integrity(f"{location}: {problem}")
    return file.header


def drift(configured: Sequence[Recipient], header: Mapping[str, Any]) -> str | None:
    """How the recipients a store is sealed to differ from the configured ones, if at all."""
    sealed = header_recipients(header)
    if tuple(sealed) == tuple(configured):
        return None
    was, now = {r.key for r in sealed}, {r.key for r in configured}
    parts = []
    added = [r for r in configured if r.key not in was]
    removed = [r for r in sealed if r.key not in now]
    if added:
        parts.append("not yet sealed to " + ", ".join(_short(r) for r in added))
    if removed:
        parts.append("still sealed to " + ", ".join(_short(r) for r in removed))
    return "; ".join(parts) or "its recipients' groups changed"


def first_public_key(identities: Sequence[Any]) -> str | None:
    """The public key of the first age identity among `identities` (SSH ones give none)."""
    import pyrage

    for identity in identities:
        if isinstance(identity, pyrage.x25519.Identity):
            return str(identity.to_public())
    return None
