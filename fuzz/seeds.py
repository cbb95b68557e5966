#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (fuzz/corpus/<target>/) from the fixtures the
tests already hold: the vendors' sample payloads quoted in src/sources and tests/it,
the example config, and gzip and deflate bodies made from them."""

import gzip
import hashlib
import pathlib
import re
import zlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
KINDS = ["hubspot", "standard", "mailchimp", "mandrill", "marketo", "pipedrive",
         "calendly", "typeform", "zoom", "intercom", "mapped", "segment", "salesforce"]
SEGMENT_ENDPOINTS = 5
# Rust string literals: raw (r"..", r#".."#) and plain ("..").
RAW = re.compile(r'r(#*)"(.*?)"\1', re.S)
PLAIN = re.compile(r'(?<![r#\w])"((?:[^"\\\n]|\\.)*)"')
ORG = "00D5e000000KQ2eEAG"


def literals(path):
    text = path.read_text(encoding="utf-8")
    found = [m.group(2) for m in RAW.finditer(text)]
    for m in PLAIN.finditer(RAW.sub("", text)):
        try:
            found.append(bytes(m.group(1), "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8"))
        except (UnicodeDecodeError, UnicodeEncodeError):
            continue
    return found


def payload_like(text):
    text = text.strip()
    return len(text) >= 2 and (text[0] in "{[<" or ("=" in text and "&" in text))


def write(target, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def files_of(kind):
    paths = list((ROOT / "src" / "sources").glob(f"{kind}.rs"))
    paths += list((ROOT / "src" / "sources" / kind).glob("**/*.rs"))
    paths += list((ROOT / "tests" / "it").glob(f"source_{kind}.rs"))
    return paths


def main():
    bodies = []
    for kind in KINDS:
        target = "salesforce_xml" if kind == "salesforce" else f"source_{kind}"
        for path in files_of(kind):
            for text in literals(path):
                if not payload_like(text):
                    continue
                data = text.encode("utf-8")
                bodies.append(data)
                if kind == "segment":
                    for endpoint in range(SEGMENT_ENDPOINTS):
                        write(target, bytes([endpoint]) + data)
                else:
                    write(target, data)
    # Salesforce tests build messages from an envelope and notifications: put their
    # fragments inside the envelope, with the org the fuzz target is configured for.
    sf = (ROOT / "src" / "sources" / "salesforce" / "tests.rs").read_text(encoding="utf-8")
    envelope = re.search(r'fn message\(.*?r#"(.*?)"#', sf, re.S).group(1)
    for path in files_of("salesforce"):
        for text in literals(path):
            if "<sf:" in text or "<Notification>" in text:
                fields = text if "<Notification>" in text else (
                    "<Notification><Id>04l5e00000ABCDEFGH</Id>"
                    '<sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
                    f"{text}</sObject></Notification>")
                message = envelope.replace("{org}", ORG).replace("{notifications}", fields)
                write("salesforce_xml", message.encode("utf-8"))
    # Mailchimp's and Mandrill's bodies are forms the tests build from pairs.
    write("source_mailchimp", b"type=subscribe&fired_at=2026-11-20+21%3A35%3A57&data%5Bid%5D=8a25ff1d98"
          b"&data%5Blist_id%5D=a6b5da1054&data%5Bemail%5D=api%40mailchimp.com&data%5Bemail_type%5D=html"
          b"&data%5Bmerges%5D%5BEMAIL%5D=api%40mailchimp.com&data%5Bmerges%5D%5BFNAME%5D=Mailchimp"
          b"&data%5Bmerges%5D%5BLNAME%5D=API&data%5Bip_opt%5D=10.20.10.30")
    write("source_mailchimp", b"type=upemail&fired_at=2026-11-20+22%3A15%3A09&data%5Blist_id%5D=a6b5da1054"
          b"&data%5Bnew_id%5D=51da8c3259&data%5Bnew_email%5D=api%2Bnew%40mailchimp.com"
          b"&data%5Bold_email%5D=api%2Bold%40mailchimp.com")
    for text in literals(ROOT / "src" / "sources" / "mandrill.rs"):
        if text.strip().startswith("["):
            write("source_mandrill", b"mandrill_events=" + text.encode("utf-8").replace(b"&", b"%26"))
    # The fuzz target's mapped source reads /id, /email, /visitor, /action, /at.
    write("source_mapped", b'{"id":"evt_1","email":"Ann@Example.com","action":"trial.started",'
          b'"at":"2026-11-23T09:00:00Z","company":"Acme","person":{"title":"CTO"}}')
    write("source_mapped", b'{"id":2,"visitor":"v-7","action":"demo","at":"2026-11-22T09:00:00+02:00"}')
    # Pipedrive's tests build bodies with json!: the v2 "Create person" and "Update
    # activity" examples of pipedrive.readme.io/docs/webhooks-v2-migration-guide.
    meta = ('"meta":{"action":"%s","company_id":"8087566","correlation_id":"c-1","entity_id":"%s",'
            '"entity":"%s","id":"%s","is_bulk_edit":false,"timestamp":"2026-11-23T09:00:00.000Z",'
            '"type":"general","user_id":"12415231","version":"2.0","webhook_id":"4710827",'
            '"webhook_owner_id":"12094821","change_source":"app","attempt":1,"host":"pd-us.pipedrive.com"}')
    write("source_pipedrive", ('{"data":{"add_time":"2026-11-23T08:00:00Z","custom_fields":{},'
          '"emails":[{"label":"work","value":"dana@example.com","primary":true}],"first_name":"Dana",'
          '"id":501,"label":null,"last_name":"Reyes","name":"Dana Reyes","org_id":77,"owner_id":12415231,'
          '"phones":[{"label":"work","value":"+1 555 0100","primary":true}],'
          '"update_time":"2026-11-23T08:59:00Z","visible_to":"3"},"previous":null,'
          + meta % ("create", "501", "person", "e-501") + '}').encode())
    write("source_pipedrive", ('{"data":{"id":9,"done":true,"type":"call","subject":"Intro",'
          '"person_id":501,"deal_id":3,"org_id":77,"marked_as_done_time":"2026-11-23T08:30:00Z"},'
          '"previous":{"done":false},' + meta % ("change", "9", "activity", "e-9") + '}').encode())
    # Bodies as they come compressed; the body target's first byte picks the encoding
    # (0 gzip, 1 deflate, 2 none) and the size of the pieces.
    for data in bodies[:200]:
        write("body", bytes([0 | 4 * 7]) + gzip.compress(data))
        write("body", bytes([1 | 4 * 15]) + zlib.compress(data))
        write("body", bytes([2 | 4 * 63]) + data)
    write("body", bytes([0]) + gzip.compress(bytes(200_000)))
    # Settings: the example file and every TOML the tests parse.
    write("config", (ROOT / "config" / "attentiond.toml").read_bytes())
    for path in [*(ROOT / "src" / "config").glob("*.rs"), *(ROOT / "src" / "sources").glob("**/tests.rs")]:
        for text in literals(path):
            if "[" in text and "=" in text and not text.lstrip().startswith(("{", "[{", "<")):
                write("config", text.encode("utf-8"))
    for target in sorted(p.name for p in CORPUS.iterdir()):
        print(f"{target}: {len(list((CORPUS / target).iterdir()))} seeds")


if __name__ == "__main__":
    main()
