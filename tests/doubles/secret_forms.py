"""The forms a leaked secret could take, for the tests that search outputs,
files, syscalls and memory for one. Standard library only.

  encodings(secret)  -> [str]    raw, URL-encoded, JSON-escaped, and base64
                                 at byte offsets 0/1/2 (only the part that does
                                 not depend on the neighbouring bytes)
  needles(secrets)   -> {bytes: label}  every encoding of every secret
  leaks(data, needles) -> [label]       which secrets data holds, in any form
"""
import base64
import json
import urllib.parse


def encodings(secret):
    """The forms a leaked secret could take: raw, base64 at offsets 0/1/2,
    URL-encoded, JSON-escaped."""
    raw = secret.encode()
    json_form = json.dumps(secret)[1:-1]
    forms = {secret, urllib.parse.quote(secret, safe=""), json_form,
             json_form.replace("/", "\\/")}  # JSON may escape '/' too
    for pad in (b"", b"x", b"xy"):
        b64 = base64.b64encode(pad + raw).decode()
        skip = {0: 0, 1: 2, 2: 3}[len(pad)]
        forms.add(b64[skip:skip + (len(raw) * 4) // 3 - 4])
    return [f for f in forms if len(f) >= 8]


def needles(secrets):
    """{needle bytes: label} for every encoding of every secret; secrets is
    {label: secret} or an iterable of secrets (labelled by position)."""
    if not isinstance(secrets, dict):
        secrets = {f"secret #{i}": s for i, s in enumerate(secrets)}
    out = {}
    for label, secret in secrets.items():
        for form in encodings(secret):
            kind = "raw" if form == secret else "encoded"
            out.setdefault(form.encode(), f"{label} ({kind})")
    return out


def leaks(data, found_needles):
    """Labels of the needles (from needles()) that occur in data (bytes or str)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return sorted({label for n, label in found_needles.items() if n in data})
